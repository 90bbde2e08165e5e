"""Analyses beyond the pod, as pure functions over plain mappings (no I/O, no reporters).

- `netpol`: which namespaces deny ingress and egress by default, and rules that allow everything
  (NetworkPolicy, CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, AdminNetworkPolicy,
  BaselineAdminNetworkPolicy).
- `psp`: the Pod Security Standards level a PodSecurityPolicy is equivalent to (the upstream
  mapping), what keeps it from the next stricter level, and whether it mutates pods.
- `rbac`: Kubernetes RBAC authorization as the API server decides it, and who can run pods,
  privileged pods, exec into them, escalate, bind or impersonate, per namespace.

They take objects as read from manifests or from a cluster alike; `podsec.beyond` wires them
into `podsec scan`, `podsec psp` and `podsec rbac`. `rules` declares the rules whose findings
they make (`BeyondRule`s: ids, levels, severities, documentation), as `podsec.checks` declares
the checks of pods.
"""
