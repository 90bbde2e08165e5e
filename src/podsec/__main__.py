from podsec.cli import main

raise SystemExit(main())
