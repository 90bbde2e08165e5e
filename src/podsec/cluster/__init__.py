"""The running cluster: ``podsec audit`` and ``podsec monitor`` (an edge, like the CLI and the webhook).

Reading (`api`, `discovery`) is kept apart from deciding what to evaluate (`owners`,
`projection`) and from evaluating (`evaluation`, the only module that calls the core's
evaluation); `readiness` judges namespaces (with `psaconfig`, PSA's own configuration),
`reports` writes PolicyReports back. `audit` reads a cluster once and `cli` reports it as
``podsec scan`` reports files; `monitor` keeps all of it current (`metrics`, `lease`,
`service`), and `manifests` prints what runs it. `options` holds the command-line options.
"""
