"""The worker's metrics that are computed, not just counted: population, lag, latency, funnel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from producers.records import RecordEncoder
from schemas.errors import SchemaError, ValidationError
from streams.replay.processing import ReplayMessage
from streams.scoring.config import load_model
from streams.worker.campaigns import CampaignOutput, build_engine
from streams.worker.collectors import (
    SCORE_BUCKETS,
    BulkHistogram,
    LagCollector,
    PopulationCollector,
    population,
)
from streams.worker.engagement import ActivityItem, score_candidate
from streams.worker.metrics import (
    EVENT_LATENCY_BUCKETS,
    WorkerMetrics,
    dead_letter_reason,
    event_type_label,
)
from streams.worker.outbox import Outbox
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor
from streams.worker.profile import with_profile
from streams.worker.rows import dump_row

TIERS = ("cold", "warm", "engaged", "hot")


def _row(tier: str | None, totals: dict[str, float], at: int | None = 1) -> bytes:
    return orjson.dumps({"engagement": {"tier": tier, "totals": totals, "at": at}})


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_population_counts_tiers_and_scores() -> None:
    rows = [
        _row("hot", {"application_submitted": 60.0}),
        _row("warm", {"page_viewed": 8.0, "email_opened": 4.0}),
        _row("cold", {"page_viewed": -3.0}),  # a negative sum scores 0
        orjson.dumps({"profile": {"locale": "de-DE"}}),  # profile only: not a scored candidate
        None,
        _row(None, {"page_viewed": 1.0}),  # no tier stored yet counts as the lowest tier
        orjson.dumps(1740996000000000),  # the table's stream clock of a partition: not a row
        orjson.dumps({"cand-1": 1}),  # a timer index bucket: not a row either
    ]
    counted = population(rows, TIERS)
    assert counted.tiers == {"cold": 2, "warm": 1, "engaged": 0, "hot": 1}
    assert counted.count == 4
    assert counted.score_sum == 73.0
    le = dict(zip(SCORE_BUCKETS, counted.score_buckets, strict=False))
    assert le[1.0] == 2  # 0 and 1
    assert le[10.0] == 2 and le[15.0] == 3
    assert le[75.0] == 4 and counted.score_buckets[-1] == 4


def test_population_collector_exposes_gauge_and_histogram() -> None:
    registry = CollectorRegistry()
    rows = [_row("hot", {"a": 60.0}), _row("warm", {"a": 12.0})]
    calls = []

    def read() -> list[bytes]:
        calls.append(1)
        return rows

    registry.register(PopulationCollector(read, TIERS, max_age_s=60))
    samples = _samples(registry)
    assert samples[("nurture_engagement_candidates", (("tier", "hot"),))] == 1
    assert samples[("nurture_engagement_candidates", (("tier", "engaged"),))] == 0
    assert samples[("nurture_engagement_score_bucket", (("le", "15.0"),))] == 1
    assert samples[("nurture_engagement_score_bucket", (("le", "+Inf"),))] == 2
    assert samples[("nurture_engagement_score_count", ())] == 2
    _samples(registry)
    assert len(calls) == 1, "a second scrape within max_age_s reuses the count"


def test_lag_collector_labels_topic_and_partition() -> None:
    registry = CollectorRegistry()
    registry.register(
        LagCollector(lambda: {"p.candidate.activity:2": 7, "p.candidate.profile:0": 0})
    )
    samples = _samples(registry)
    key = ("nurture_consumer_lag_records", (("partition", "2"), ("topic", "p.candidate.activity")))
    assert samples[key] == 7


def test_latency_transitions_and_applied_funnel() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.know_campaigns(["welcome-series"])
    now = datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp()
    metrics.observe_latency(
        now, [int((now - 2) * 1_000_000), datetime.fromtimestamp(now - 120, UTC)]
    )
    metrics.count_transition(None, "cold")
    metrics.count_transition("cold", "warm")
    samples = _samples(registry)
    assert samples[("nurture_worker_event_latency_seconds_count", ())] == 2
    assert samples[("nurture_worker_event_latency_seconds_sum", ())] == 122.0
    assert samples[("nurture_worker_event_latency_seconds_bucket", (("le", "5.0"),))] == 1
    transition = (("from_tier", "none"), ("to_tier", "cold"))
    assert samples[("nurture_engagement_tier_transitions_total", transition)] == 1
    funnel = (("campaign", "welcome-series"), ("stage", "applied"))
    assert samples[("nurture_funnel_events_total", funnel)] == 0


def test_application_ending_an_enrollment_counts_applied_per_campaign() -> None:
    model = load_model()
    engine = build_engine(model)
    metrics = WorkerMetrics(CollectorRegistry())
    output = CampaignOutput(engine, "nurture.action", metrics, model.version)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    consents = {"email": {"granted": True, "granted_at": t0}}
    stored = dump_row(
        with_profile(
            {},
            {"candidate_id": "c1", "time_zone": "UTC", "consents": consents, "updated_at": t0},
        )
    )

    def event(n: int, event_type: str, payload: dict[str, object]) -> ActivityItem:
        record = {
            "event_id": f"e{n}",
            "type": event_type,
            "candidate_id": "c1",
            "occurred_at": t0 + timedelta(days=n),
            "source": "test",
            "payload": payload,
        }
        return ActivityItem(record, 0, n)

    joined = event(0, "talent_pool_joined", {"pool_id": "p"})
    applied = event(2, "application_submitted", {"job_id": "j1"})
    outcome = score_candidate(model, "c1", stored, [joined, applied])
    outbox = Outbox({"nurture.action": 3})
    for decision in output.on_scored("c1", outcome.row, outcome.events):
        output.add(outbox, b"c1", decision)
    sample = metrics.registry.get_sample_value
    stage = {"campaign": "welcome-series", "stage": "applied"}
    assert sample("nurture_funnel_events_total", stage) == 1
    assert sample("nurture_funnel_events_total", {**stage, "campaign": "re-engagement"}) == 0


def test_a_slow_count_is_repeated_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("streams.worker.collectors.time.monotonic", lambda: clock[0])
    scans = []

    def slow_rows() -> list[bytes]:
        scans.append(clock[0])
        clock[0] += 2.0  # the scan takes 2 s: the next one waits 20 x 2 = 40 s, not 15 s
        return [_row("hot", {"a": 60.0})]

    collector = PopulationCollector(slow_rows, TIERS, max_age_s=15)
    collector.counted()
    clock[0] += 20
    collector.counted()
    assert len(scans) == 1
    clock[0] += 20
    collector.counted()
    assert len(scans) == 2


@dataclass
class _Table:
    """Stands in for the faust table: ``data`` is the local store."""

    data: dict[bytes, bytes] = field(default_factory=dict)


def _activity(n: int, event_type: str, payload: Mapping[str, object]) -> ReplayMessage:
    encoded = RecordEncoder().event(
        {
            "event_id": f"evt-{n}",
            "type": event_type,
            "candidate_id": "cand-1",
            "occurred_at": "2026-03-01T09:30:00Z",
            "source": "ats",
            "payload": payload,
        }
    )
    return ReplayMessage("candidate.activity", 0, n, encoded.key, encoded.value, [], 0)


def test_processed_events_count_by_type_and_dead_letters_by_error_class() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    outputs = Outputs(
        table=_Table(),
        changelog="worker-changelog",
        engagement="candidate.engagement",
        dlq={"candidate.activity": "candidate.activity.dlq"},
        partitions={"worker-changelog": 1, "candidate.engagement": 1, "candidate.activity.dlq": 1},
        metrics=metrics,
    )
    page = {"url": "https://careers.example.com/jobs/42", "page_type": "job"}
    garbage = ReplayMessage("candidate.activity", 0, 9, b"cand-1", b"not avro", [], 0)
    other_key = _activity(4, "page_viewed", page)
    messages = [
        _activity(1, "page_viewed", page),
        _activity(2, "page_viewed", page),
        _activity(3, "application_submitted", {"job_id": "j1"}),
        garbage,
        ReplayMessage(*(other_key.topic, 0, 4, b"cand-2", other_key.value, [], 0)),
    ]
    ActivityProcessor(load_model(), outputs).process(messages)
    sample = metrics.registry.get_sample_value
    by_type = "nurture_worker_events_by_type_total"
    assert sample(by_type, {"type": "page_viewed"}) == 2
    assert sample(by_type, {"type": "application_submitted"}) == 1
    dead = {
        dict(labels)["reason"]: value
        for (name, labels), value in _samples(metrics.registry).items()
        if name == "nurture_worker_dead_letters_total"
        and dict(labels)["topic"] == "candidate.activity.dlq"
    }
    # Not Avro at all; a record whose key is not its candidate id.
    assert dead == {"CorruptPayloadError": 1, "ValidationError": 1}
    assert sample("nurture_worker_events_total", {"outcome": "dead_lettered"}) == 2


def test_labels_stay_bounded() -> None:
    assert event_type_label("page_viewed") == "page_viewed"
    assert event_type_label("made_up_type") == "other"
    assert event_type_label(None) == "other"
    assert dead_letter_reason(ValidationError("type", "bad")) == "ValidationError"
    assert dead_letter_reason(SchemaError("bad bytes")) == "SchemaError"
    assert dead_letter_reason(KeyError("x")) == "other"


def test_bulk_histogram_exposes_what_a_histogram_observing_each_value_would() -> None:
    values = [-3.0, 0.0, 0.05, 0.07, 4.99, 5.0, 5.01, 86400.0, 1e9, 2.5, 2.5]
    one_by_one, bulk = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("x_seconds", "doc", buckets=EVENT_LATENCY_BUCKETS, registry=one_by_one)
    for value in values:
        histogram.observe(max(0.0, value))
    batched = BulkHistogram("x_seconds", "doc", EVENT_LATENCY_BUCKETS)
    bulk.register(batched)
    batched.observe_many(values[:4])
    batched.observe_many(values[4:])
    batched.observe_many([])
    expected = {k: v for k, v in _samples(one_by_one).items() if not k[0].endswith("_created")}
    assert _samples(bulk) == expected
    assert expected[("x_seconds_bucket", (("le", "5.0"),))] == 8


def test_types_outside_the_vocabulary_add_up_under_other() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.count_types(["page_viewed", "made_up", "also_made_up", None, "page_viewed"])
    sample = metrics.registry.get_sample_value
    by_type = "nurture_worker_events_by_type_total"
    assert sample(by_type, {"type": "page_viewed"}) == 2
    assert sample(by_type, {"type": "other"}) == 3
    assert sample(by_type, {"type": "made_up"}) is None
