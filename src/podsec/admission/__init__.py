"""Admission control: the same checks that run in CI, guarding the cluster."""
