"""The webhook's Prometheus metrics: names, labels, counter and histogram semantics."""

from __future__ import annotations

from prometheus_client import generate_latest

from podsec.admission.server import Metrics, Today


def test_counters_and_histogram_in_prometheus_text() -> None:
    m = Metrics()
    m.bad_request(413)
    for seconds, verdict in ((0.0004, "deny"), (0.0005, "allow"), (0.003, "allow"), (2.0, "allow")):
        m.reviewed("validate", "CREATE", "pods", "", verdict, "enforce", seconds)  # le: a bound counts in its bucket
    text = generate_latest(m.registry).decode()
    labels = 'endpoint="validate",operation="CREATE",resource="pods"'
    assert f'podsec_admission_requests_total{{{labels},subresource=""}} 4.0' in text
    assert (
        'podsec_admission_decisions_total{decision="deny",endpoint="validate",mode="enforce",operation="CREATE",'
        'resource="pods"} 1.0' in text
    )
    assert 'podsec_admission_bad_requests_total{reason="413"} 1.0' in text
    bucket = 'podsec_admission_duration_seconds_bucket{endpoint="validate",le="%s",mode="enforce",operation="CREATE",resource="pods"}'
    assert f"{bucket % '0.0005'} 2.0" in text
    assert f"{bucket % '0.005'} 3.0" in text
    assert f"{bucket % '1.0'} 3.0" in text
    assert f"{bucket % '+Inf'} 4.0" in text
    assert (
        'podsec_admission_duration_seconds_count{endpoint="validate",mode="enforce",operation="CREATE",resource="pods"} 4.0'
        in text
    )
    assert "# TYPE podsec_admission_duration_seconds histogram" in text


def test_today_is_the_date() -> None:
    from datetime import date

    today = Today()
    assert today() == date.today() and today() is today()


def test_label_tuples_from_clients_are_not_remembered() -> None:
    """The per-review fast path remembers a label tuple's keys only when its values are all in
    their fixed sets: client-made values are mapped every time and never kept."""
    m = Metrics()
    for i in range(3000):
        m.reviewed("validate", "CREATE", f"widgets{i}", "", "allow", "enforce", 0.001)
        m.count(("validate", "CREATE", "pods", "", "deny", "enforce"), 0.001)
    assert len(m._bound) == 1
    assert m.requests == {("validate", "CREATE", "other", ""): 3000, ("validate", "CREATE", "pods", ""): 3000}
    assert m.decisions[("validate", "CREATE", "pods", "deny", "enforce")] == 3000
    assert m.latency[("validate", "CREATE", "pods", "enforce")][1] == 3000  # the le="0.001" bucket
