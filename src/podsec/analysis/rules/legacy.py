"""Legacy PodSecurityPolicy objects (podsec hardened): their Pod Security Standards equivalent.

Evaluated by `podsec.beyond` on each PodSecurityPolicy a scan meets, with the upstream mapping
of `podsec.analysis.psp`; `podsec psp` reports the same, with who may use each policy.
"""

from __future__ import annotations

from podsec.analysis.rules._rule import BeyondRule, Scope
from podsec.checks import CheckLevel, Example, Severity

MAPPING_URL = "https://kubernetes.io/docs/reference/access-authn-authz/psp-to-pod-security-standards/"
MIGRATE_URL = "https://kubernetes.io/docs/tasks/configure-pod-container/migrate-from-psp/"


_PSP = """\
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: apps
spec:
  privileged: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, emptyDir, secret, projected]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
"""

_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels:
    pod-security.kubernetes.io/enforce: restricted
"""

POD_SECURITY_POLICY: BeyondRule = BeyondRule(
    id="podSecurityPolicy",
    level=CheckLevel.HARDENED,
    title="PodSecurityPolicy (removed in Kubernetes 1.25)",
    severity=Severity.LOW,
    reason="PodSecurityPolicy",
    rationale="PodSecurityPolicy was removed in Kubernetes 1.25: an API server of 1.25 or later refuses the "
    "object, and nothing enforces it. podsec maps each one to the Pod Security Standards level it is "
    "equivalent to, following the upstream mapping field by field (privileged, host namespaces and ports, "
    "capabilities, volumes, SELinux, runAsUser, allowPrivilegeEscalation, procMount, sysctls and the "
    "seccomp and AppArmor annotations), names the fields that keep it from the next stricter level, and "
    "says whether it mutates pods (its default* fields and MustRunAs strategies): Pod Security Admission "
    "never does, so pods that relied on those values must set them themselves. `podsec psp` adds which "
    "namespaces' service accounts may use each policy, and a label per namespace.",
    remediation="Delete the PodSecurityPolicy and label the namespaces that used it with the level podsec "
    "names (`pod-security.kubernetes.io/enforce: <level>`); set in the pods' securityContext what the "
    "policy used to fill in.",
    fields=("spec",),
    example=Example(failing=_PSP, fixed=_NAMESPACE, whole=True),
    references=(MAPPING_URL, MIGRATE_URL),
    scope=Scope.OBJECT,
)
