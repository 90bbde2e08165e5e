"""Policy as code: Rego modules evaluated in-process as first-class checks."""
