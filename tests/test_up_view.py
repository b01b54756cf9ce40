"""The live view's rows of `nurture up`, computed from scraped samples (no processes)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from deploy.up.view import Row, Snapshot, view_rows


def _exposed(registry: CollectorRegistry) -> tuple[Sample, ...]:
    """Samples as a child's /metrics exposes them (with the _created series of counters)."""
    text = generate_latest(registry).decode()
    return tuple(s for family in text_string_to_metric_families(text) for s in family.samples)


def _pipeline(accepted: float, processed: float) -> tuple[Sample, ...]:
    registry = CollectorRegistry()
    Counter("nurture_events_accepted", "", ["type", "source"], registry=registry).labels(
        "page_viewed", "ats"
    ).inc(accepted)
    events = Counter("nurture_worker_events", "", ["outcome"], registry=registry)
    events.labels("scored").inc(processed * 0.75)
    events.labels("duplicate").inc(processed * 0.25)
    lag = Gauge("nurture_consumer_lag_records", "", ["topic", "partition"], registry=registry)
    lag.labels("candidate.activity", "0").set(5)
    lag.labels("candidate.activity", "1").set(7)
    lag.labels("nurture.action", "0").set(1)
    tiers = Gauge("nurture_engagement_candidates", "", ["tier"], registry=registry)
    for tier, number in (("cold", 40), ("warm", 9), ("hot", 1)):
        tiers.labels(tier).set(number)
    emitted = Counter("nurture_actions_emitted", "", ["campaign", "channel"], registry=registry)
    emitted.labels("welcome-series", "email").inc(3)
    suppressed = Counter(
        "nurture_actions_suppressed", "", ["campaign", "reason"], registry=registry
    )
    suppressed.labels("welcome-series", "consent_missing").inc(2)
    suppressed.labels("re-engagement", "consent_missing").inc(1)
    suppressed.labels("re-engagement", "frequency_cap").inc(4)
    outcomes = Counter(
        "nurture_delivery_outcomes", "", ["channel", "outcome", "reason"], registry=registry
    )
    outcomes.labels("email", "sent", "").inc(3)
    outcomes.labels("email", "dead_lettered", "template_error").inc(1)
    dead = Counter("nurture_worker_dead_letters", "", ["topic", "reason"], registry=registry)
    dead.labels("candidate.activity.dlq", "ValidationError").inc(2)
    return _exposed(registry)


def _rows(rows: list[Row], section: str) -> dict[str, str]:
    return {r.item: r.value for r in rows if r.section == section}


def test_rates_are_deltas_over_time_between_snapshots() -> None:
    before = Snapshot(100.0, _pipeline(accepted=1_000, processed=800))
    after = Snapshot(102.0, _pipeline(accepted=1_300, processed=1_200))
    rows = view_rows(after, before)
    assert _rows(rows, "events/s") == {
        "in (gateway accepted)": "150.0",
        "processed (worker)": "200.0",
    }
    assert _rows(view_rows(before, None), "events/s")["processed (worker)"] == "-"


def test_a_restarted_child_shows_no_negative_rate() -> None:
    before = Snapshot(100.0, _pipeline(accepted=1_000, processed=800))
    after = Snapshot(101.0, _pipeline(accepted=10, processed=900))
    assert _rows(view_rows(after, before), "events/s")["in (gateway accepted)"] == "-"


def test_sections_sum_over_labels() -> None:
    rows = view_rows(Snapshot(1.0, _pipeline(1, 1)), None)
    assert _rows(rows, "consumer lag (records)") == {
        "candidate.activity": "12",
        "nurture.action": "1",
    }
    assert _rows(rows, "candidates per tier") == {"cold": "40", "hot": "1", "warm": "9"}
    assert _rows(rows, "actions emitted") == {"welcome-series/email": "3"}
    assert _rows(rows, "actions suppressed") == {"consent_missing": "3", "frequency_cap": "4"}
    assert _rows(rows, "deliveries") == {"email/dead_lettered": "1", "email/sent": "3"}
    assert _rows(rows, "dead letters") == {
        "candidate.activity.dlq/ValidationError": "2",
        "delivery email": "1",
    }


def test_nothing_scraped_yet_says_so() -> None:
    rows = view_rows(Snapshot(1.0, ()), None)
    assert _rows(rows, "deliveries") == {"none yet": ""}
    assert _rows(rows, "consumer lag (records)") == {"no partitions assigned": ""}
    assert [r.section for r in rows][:2] == ["events/s", "events/s"]
