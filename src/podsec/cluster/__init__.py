"""The running cluster: ``podsec audit`` and ``podsec monitor`` (an edge, like the CLI and the webhook).

Reading (`api`, `discovery`, `inventory`) is kept apart from deciding what to evaluate
(`owners`, `projection`) and from evaluating (`evaluation`, the only module that calls the
core's evaluation); `readiness` judges namespaces, `reports` writes PolicyReports back, and
`monitor` keeps all of it current.
"""
