"""Capabilities that are dangerous at any level, and drop lists PSS does not honour (podsec hardened)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, Example, Platform, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Replace, Safety, by_owner, removal
from podsec.checks._hardened import container_says, detail_describe

DANGEROUS = frozenset(
    {
        "ALL", "SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYS_MODULE", "BPF", "PERFMON",
        "SYS_RAWIO", "SYS_BOOT", "SYS_TIME", "DAC_READ_SEARCH", "MAC_ADMIN", "MAC_OVERRIDE",
        "SYSLOG", "LINUX_IMMUTABLE", "SYS_RESOURCE", "CHECKPOINT_RESTORE",
    }
)  # fmt: skip


def _norm(cap: str) -> str:
    name = cap.strip().upper()
    return name.removeprefix("CAP_")


def _dangerous(pod: PodView) -> list[Violation]:
    found = []
    for c in pod.containers:
        caps = c.effective.capabilities
        for i, cap in enumerate(caps.value.add if caps.value else ()):
            if _norm(cap) in DANGEROUS:
                found.append(container_says(c, (*caps.path, "add", i), f'adds "{cap}"'))
    return found


DANGEROUS_CHECK: Check = Check(
    id="dangerousCapabilities",
    level=CheckLevel.HARDENED,
    title="Container adds a dangerous capability",
    severity=Severity.HIGH,
    revisions=(((1, 0), _dangerous),),
    describe=detail_describe("dangerous capability"),
    rationale="These capabilities each give a route to the node or to other workloads: "
    "SYS_ADMIN is nearly root, SYS_MODULE loads kernel code, SYS_PTRACE reads other processes, "
    "NET_ADMIN/NET_RAW reconfigure or spoof the network, BPF/PERFMON reach kernel memory. "
    "podsec flags them whatever the profile level allows, in any spelling (CAP_ prefix, lower case).",
    remediation="Remove the capability from securityContext.capabilities.add; if the workload truly "
    "needs it, exempt it with a reason and an expiry date.",
    fields=("spec.containers[*].securityContext.capabilities.add",),
    platform=Platform.LINUX,
    fix=removal("remove the dangerous capability", "the workload may use the capability"),
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    capabilities:\n      add: [NET_ADMIN]\n",
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    capabilities:\n      drop: [ALL]\n",
    ),
)


def _drop_case(pod: PodView) -> list[Violation]:
    found = []
    for c in pod.containers:
        caps = c.effective.capabilities
        for i, cap in enumerate(caps.value.drop if caps.value else ()):
            if _norm(cap) == "ALL" and cap != "ALL":
                found.append(container_says(c, (*caps.path, "drop", i), f'drops "{cap}" instead of "ALL"'))
    return found


def spelled_all(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    """``all``/``CAP_ALL`` in a drop list becomes ``ALL`` in place (what PSA compares with)."""
    containers = {c.path: c for c in pod.containers}
    fixes = []
    for owner, vs in by_owner(violations).items():
        drop = containers[owner].effective.capabilities.value
        olds = drop.drop if drop is not None else ()
        edits = tuple(Replace(v.path, olds[i], "ALL") for v in vs if isinstance(i := v.path[-1], int))
        fixes.append(Fix(owner, 'spell capabilities.drop "ALL"', Safety.SAFE, edits))
    return fixes


DROP_CASE: Check = Check(
    id="capabilitiesDropSpelling",
    level=CheckLevel.HARDENED,
    title='capabilities.drop spells ALL in another way ("all", "CAP_ALL")',
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _drop_case),),
    describe=detail_describe("drop ALL misspelled"),
    rationale='Pod Security Admission compares the drop list with "ALL" exactly, so "all" or '
    '"CAP_ALL" fails the restricted level while looking right to a reviewer; container runtimes '
    "differ in whether they accept other spellings at all.",
    remediation='Write capabilities.drop: ["ALL"] in upper case.',
    fields=("spec.containers[*].securityContext.capabilities.drop",),
    platform=Platform.LINUX,
    fix=spelled_all,
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    capabilities:\n      drop: [all]\n",
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    capabilities:\n      drop: [ALL]\n",
    ),
)
