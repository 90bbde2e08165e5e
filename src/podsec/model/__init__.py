"""The pure data model: objects, pod views, effective security contexts, standards.

Nothing in this package performs I/O or imports a YAML, HTTP or Kubernetes library.
"""
