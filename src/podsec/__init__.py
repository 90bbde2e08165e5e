"""podsec: Kubernetes pod and container security contexts, governed as code."""

__version__ = "0.1.0"
__all__ = ["__version__"]
