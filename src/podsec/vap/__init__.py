"""ValidatingAdmissionPolicy: generating policies from podsec's checks (``podsec vap generate``) and
evaluating users' policies offline as the API server does (``podsec vap test``)."""
