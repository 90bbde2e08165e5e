"""Values that scan workers send back to the parent unpickle as themselves, compiled or not.

Compiled by mypyc, a frozen dataclass once unpickled through mypyc's default ``__setstate__``,
which the frozen ``__setattr__`` refuses: the pool's result thread died and a parallel scan
spun forever (`podsec.model.values.Frozen`). A failure here is quick; the parallel scan tests
would hang instead.
"""

from __future__ import annotations

import pickle
from datetime import date

from podsec.checks import CheckLevel, Rule, Severity
from podsec.exemptions import Exemption
from podsec.findings import Finding, InputError, Replacement, Suppressed, TextFix, ValuesRef
from podsec.model.objects import ObjectRef
from podsec.model.paths import Position


def test_frozen_values_round_trip_through_pickle() -> None:
    ref = ObjectRef("apps/v1", "Deployment", "ns", "web")
    rule = Rule(  # not a registered check (a Rego rule's): travels by value
        id="example",
        level=CheckLevel.HARDENED,
        title="t",
        severity=Severity.LOW,
        rationale="r",
        remediation="m",
    )
    exemption = Exemption(frozenset({"*"}), "why", date(2030, 1, 1), "config", "config .podsec.yaml exemptions[0]")
    finding = Finding(
        rule, Severity.LOW, CheckLevel.HARDENED, ref, None, "app", ("spec",), "a.yaml", 1, 1, "field", "m"
    )
    values = [
        Suppressed(finding, exemption),
        ref,
        rule,
        exemption,
        Position(3, 5, True),
        ValuesRef("values.yaml", "image.tag", 4),
        TextFix("set it", (Replacement(10, 0, "x: 1\n", 2),)),
        InputError("a.yaml", 3, "bad", 1, ref),
    ]
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value
    assert all(type(pickle.loads(pickle.dumps(v))) is type(v) for v in values)
