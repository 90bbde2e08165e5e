"""Who may do what (podsec rbac): RBAC bindings that let subjects run privileged pods, exec into pods,
escalate or bind roles, or impersonate.

Evaluated by `podsec rbac` over the roles and bindings of its input, with the semantics of
`podsec.analysis.rbac`; each finding is on the binding's subject that holds the power.
"""

from __future__ import annotations

from podsec.analysis.rules._rule import BeyondRule, Scope
from podsec.checks import CheckLevel, Example, Severity

RBAC_URL = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
GOOD_PRACTICES_URL = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
PSA_URL = "https://kubernetes.io/docs/concepts/security/pod-security-admission/"


def _binding(role: str, rules: str, namespace: str = "dev") -> str:
    return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {role}
  namespace: {namespace}
rules:
{rules}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {role}
  namespace: {namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {role}
subjects:
- kind: ServiceAccount
  name: ci
"""


_DEPLOYER = "- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [create, update, patch]\n"
_RESTRICTED_NS = """---
apiVersion: v1
kind: Namespace
metadata:
  name: dev
  labels:
    pod-security.kubernetes.io/enforce: restricted
"""

PRIVILEGED_PODS: BeyondRule = BeyondRule(
    id="rbacPrivilegedPods",
    level=CheckLevel.RBAC,
    title="Subject can run privileged pods",
    severity=Severity.HIGH,
    reason="can run privileged pods",
    rationale="Whoever can create a pod — directly, through a controller that creates pods (Deployments, "
    "ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers and the custom kinds podsec "
    "knows, by create, update or patch), or by adding an ephemeral container — in a namespace whose Pod "
    "Security Admission enforce level is privileged (or unset, which is the same) can run a privileged "
    "container, share the node's namespaces and mount its filesystem: that is root on the node. So can whoever "
    "can also change the namespace's labels. Every group counts (system:serviceaccounts, "
    "system:serviceaccounts:NS, system:authenticated), and so do ClusterRoles bound by RoleBindings, "
    "aggregated ClusterRoles, wildcards and */subresource rules.",
    remediation="Label the namespace `pod-security.kubernetes.io/enforce: baseline` (or restricted), or narrow the "
    "role: no create/update/patch on pods and pod controllers for this subject here.",
    example=Example(
        failing=_binding("deployer", _DEPLOYER), fixed=_binding("deployer", _DEPLOYER) + _RESTRICTED_NS, whole=True
    ),
    references=(RBAC_URL, GOOD_PRACTICES_URL, PSA_URL),
    scope=Scope.RBAC,
)

_EXEC = '- apiGroups: [""]\n  resources: [pods/exec]\n  verbs: [create, get]\n'
_LOGS = '- apiGroups: [""]\n  resources: [pods/log]\n  verbs: [get]\n'

EXEC: BeyondRule = BeyondRule(
    id="rbacExec",
    level=CheckLevel.RBAC,
    title="Subject can exec, attach or port-forward into pods",
    severity=Severity.MEDIUM,
    reason="can exec into pods",
    rationale="exec, attach and port-forward run commands in, or reach, another workload's containers: its "
    "secrets, its service account token, its network. From Kubernetes 1.35 they need `create` on "
    "pods/exec, pods/attach or pods/portforward; before, `get` sufficed (websocket requests are GETs), so "
    "podsec asks for the cluster's version (`--kube-version`). `get` on nodes/proxy reaches the kubelet's "
    "API, which runs exec for every pod of the node.",
    remediation="Keep exec to break-glass roles; give developers logs (`pods/log`) instead.",
    example=Example(failing=_binding("debug", _EXEC), fixed=_binding("debug", _LOGS), whole=True),
    references=(RBAC_URL, GOOD_PRACTICES_URL),
    scope=Scope.RBAC,
)

_ESCALATE = (
    "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [roles, rolebindings]\n  verbs: [create, escalate, bind]\n"
)
_READ_ROLES = "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [roles, rolebindings]\n  verbs: [get, list]\n"

ESCALATE: BeyondRule = BeyondRule(
    id="rbacEscalate",
    level=CheckLevel.RBAC,
    title="Subject can escalate or bind roles",
    severity=Severity.HIGH,
    reason="can escalate privileges",
    rationale="RBAC stops a subject from granting permissions it does not hold, unless it has `escalate` on "
    "roles (write roles with any rules) or `bind` (bind roles it does not hold). Either lets it give itself "
    "everything in its scope.",
    remediation="Remove escalate and bind from the role, or restrict bind with resourceNames to the roles "
    "the subject may hand out.",
    example=Example(failing=_binding("rbac-admin", _ESCALATE), fixed=_binding("rbac-admin", _READ_ROLES), whole=True),
    references=(RBAC_URL, GOOD_PRACTICES_URL),
    scope=Scope.RBAC,
)

_IMPERSONATE = '- apiGroups: [""]\n  resources: [serviceaccounts]\n  verbs: [impersonate]\n'
_READ_SA = '- apiGroups: [""]\n  resources: [serviceaccounts]\n  verbs: [get]\n'

IMPERSONATE: BeyondRule = BeyondRule(
    id="rbacImpersonate",
    level=CheckLevel.RBAC,
    title="Subject can impersonate users, groups or service accounts",
    severity=Severity.HIGH,
    reason="can impersonate",
    rationale="Impersonation acts as another user, group or service account, with all of its permissions "
    "(`impersonate` on users, groups, serviceaccounts or uids).",
    remediation="Remove impersonate, or restrict it with resourceNames to the identities this subject must act as.",
    example=Example(failing=_binding("sudo", _IMPERSONATE), fixed=_binding("sudo", _READ_SA), whole=True),
    references=(RBAC_URL, GOOD_PRACTICES_URL),
    scope=Scope.RBAC,
)
