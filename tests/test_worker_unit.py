"""Pure parts of the worker: batch scoring, rows, dead letters, profiles, settings (no broker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from faust.types import TP

from schemas.errors import ConfigError, ValidationError
from schemas.settings import KafkaSettings
from streams.scoring.config import ScoringModel, load_model, parse_model
from streams.scoring.update import apply_event
from streams.worker import engagement
from streams.worker.app import WorkerInputs, build_worker
from streams.worker.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
    dead_letter,
)
from streams.worker.engagement import ActivityItem, score_candidate
from streams.worker.liveness import CommitWatch
from streams.worker.profile import with_profile
from streams.worker.record_checks import check_key
from streams.worker.rows import ENGAGEMENT, PROFILE, dump_row, load_row
from streams.worker.settings import WorkerSettings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return load_model()


def event(n: int, kind: str = "page_viewed", minutes: int = 0, **payload: Any) -> ActivityItem:
    record = {
        "event_id": f"e{n}",
        "type": kind,
        "candidate_id": "c1",
        "occurred_at": T0 + timedelta(minutes=minutes),
        "source": "test",
        "payload": payload or {"url": "https://x.example/jobs/1", "page_type": "job"},
    }
    return ActivityItem(record, partition=0, offset=n)


def test_batch_equals_one_event_at_a_time(model: ScoringModel) -> None:
    items = [event(n, minutes=n) for n in range(10)]
    whole = score_candidate(model, "c1", None, items)
    stored: bytes | None = None
    for item in items:
        one = score_candidate(model, "c1", stored, [item])
        stored = dump_row(one.row)
    assert one.record == whole.record
    assert whole.scored == 10
    assert whole.record is not None and whole.record["source_offset"] == 9


def test_duplicates_count_once_and_still_yield_the_record(model: ScoringModel) -> None:
    first = score_candidate(model, "c1", None, [event(1), event(2, minutes=5)])
    again = score_candidate(model, "c1", dump_row(first.row), [event(2, minutes=5)])
    assert again.duplicates == 1 and again.scored == 0
    assert again.record == first.record


def test_rejected_event_leaves_no_trace(
    model: ScoringModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = apply_event

    def refuse_e2(model: ScoringModel, state: Any, scoring: Any) -> Any:
        result = real(model, state, scoring)  # mutate first: the rejection must undo it
        if scoring.event_id == "e2":
            raise ValueError("refused")
        return result

    monkeypatch.setattr(engagement, "apply_event", refuse_e2)
    base = score_candidate(model, "c1", None, [event(1)])
    outcome = score_candidate(
        model, "c1", dump_row(base.row), [event(2, minutes=1), event(3, minutes=2)]
    )
    monkeypatch.setattr(engagement, "apply_event", real)
    expected = score_candidate(model, "c1", dump_row(base.row), [event(3, minutes=2)])
    assert [r.item.record["event_id"] for r in outcome.rejected] == ["e2"]
    assert outcome.record == expected.record


def test_config_errors_are_not_dead_lettered(model: ScoringModel) -> None:
    stored = dump_row(score_candidate(model, "c1", None, [event(1)]).row)
    other = parse_model({**model.model_dump(exclude_none=True), "version": "other-model"})
    with pytest.raises(ConfigError):
        score_candidate(other, "c1", stored, [event(2)])


def test_row_keeps_other_parts(model: ScoringModel) -> None:
    row = with_profile({}, {"candidate_id": "c1", "locale": "de-DE", "time_zone": "Europe/Berlin",
                            "interests": ["ai"], "job_families": [], "locations": ["Berlin"],
                            "consents": {"email": {"granted": True, "granted_at": T0,
                                                   "expires_at": None, "withdrawn_at": None}},
                            "updated_at": T0, "contact": {"email": "a@b.example"}})  # fmt: skip
    assert "contact" not in row[PROFILE]
    scored = score_candidate(model, "c1", dump_row(row), [event(1)])
    stored = load_row(dump_row(scored.row))
    assert stored[PROFILE]["locale"] == "de-DE"
    assert stored[PROFILE]["consents"]["email"]["granted_at"] == int(T0.timestamp() * 1e6)
    assert stored[ENGAGEMENT]["last_id"] == "e1"
    assert orjson.loads(dump_row(stored)) == stored


def test_dead_letter_headers() -> None:
    letter = dead_letter(
        key=b"c1",
        value=b"\x00garbage",
        headers=[("trace", b"abc"), (HEADER_TOPIC, b"stale")],
        topic="p.candidate.activity",
        partition=2,
        offset=41,
        error=ValidationError("candidate_id", "bad"),
    )
    headers = dict(letter.headers)
    assert letter.value == b"\x00garbage" and letter.key == b"c1"
    assert headers["trace"] == b"abc"
    assert headers[HEADER_TOPIC] == b"p.candidate.activity"
    assert headers[HEADER_PARTITION] == b"2" and headers[HEADER_OFFSET] == b"41"
    assert headers[HEADER_ERROR_CLASS] == b"ValidationError"
    assert b"candidate_id" in headers[HEADER_ERROR_MESSAGE]
    assert [name for name, _ in letter.headers].count(HEADER_TOPIC) == 1


def test_key_must_be_the_candidate_id() -> None:
    check_key(b"c1", "c1", "e1")
    for key in (None, b"c2"):
        with pytest.raises(ValidationError) as caught:
            check_key(key, "c1", "e1")
        assert caught.value.field == "candidate_id"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_WORKER_WEB_PORT", "7070")
    monkeypatch.setenv("NURTURE_WORKER_STORE", "memory://")
    settings = WorkerSettings()
    assert settings.web_port == 7070 and settings.store.url == "memory://"
    assert settings.faust_app_id("staging.") == "staging.nurture-worker"
    monkeypatch.setenv("NURTURE_WORKER_STORE", "redis://")
    with pytest.raises(ValueError, match="store"):
        WorkerSettings()


class _Consumer:
    def __init__(self, high: dict[TP, int | None]) -> None:
        self.high = high

    def assignment(self) -> set[TP]:
        return set(self.high)

    def highwater(self, tp: TP) -> int | None:
        return self.high[tp]


class _WorkerApp:
    """The few attributes of a faust app the commit watch reads."""

    def __init__(self, high: dict[TP, int | None], committed: dict[TP, int]) -> None:
        self.consumer = _Consumer(high)
        self.monitor = SimpleNamespace(tp_committed_offsets=committed)
        self.tables = SimpleNamespace(recovery=SimpleNamespace(in_recovery=False))
        self.rebalancing = False
        self.rebalancing_count = 0
        self.should_stop = False


def test_commit_watch_flags_a_stall_only_while_records_wait() -> None:
    tp = TP("p.candidate.activity", 0)
    app = _WorkerApp({tp: 100}, {tp: 40})
    watch = CommitWatch(app, frozenset({tp.topic}), stall_timeout_s=10, last_progress=0.0)
    assert watch.check(now=1.0)  # first look: progress
    assert watch.check(now=10.5) and not watch.check(now=11.5)  # 60 waiting, no commit for 10 s
    assert watch.status()["lag"] == {"p.candidate.activity:0": 60}
    app.monitor.tp_committed_offsets = {tp: 70}
    assert watch.check(now=12.0)  # the commit moved
    app.rebalancing = True
    assert watch.check(now=30.0)  # no commits expected during a rebalance
    app.rebalancing = False
    app.monitor.tp_committed_offsets = {tp: 100}
    assert watch.check(now=100.0)  # caught up: nothing waits, nothing to flag


def test_commit_watch_skips_a_partition_whose_high_watermark_is_not_known_yet() -> None:
    """Found under load (tests/test_worker_group.py): just after an assignment faust's consumer
    knows no high watermark (None) until a fetch answers, and the watch crashed the worker."""
    known, fresh = TP("p.candidate.activity", 0), TP("p.candidate.activity", 1)
    app = _WorkerApp({known: 100, fresh: None}, {known: 40, fresh: 7})
    watch = CommitWatch(app, frozenset({known.topic}), stall_timeout_s=10, last_progress=0.0)
    assert watch.lag() == {"p.candidate.activity:0": 60}
    assert watch.check(now=1.0)
    app.consumer.high = {fresh: None}  # only partitions with nothing known: none waits
    assert watch.check(now=100.0) and watch.status()["lag"] == {}


def test_commit_watch_bounds_a_rebalance_until_its_assignment_not_the_recovery() -> None:
    tp = TP("p.candidate.activity", 0)
    app = _WorkerApp({tp: 100}, {tp: 40})
    watch = CommitWatch(app, frozenset({tp.topic}), stall_timeout_s=10, rebalance_limit_s=66)
    assert watch.rebalance_stuck(now=0.0) is None  # no rebalance at all
    app.rebalancing, app.rebalancing_count = True, 1  # the first join begins
    assert watch.rebalance_stuck(now=5.0) is None
    assert watch.rebalance_stuck(now=70.0) is None  # 65 s: within the limit
    assert watch.rebalance_stuck(now=72.0) == pytest.approx(67.0)  # stuck since the 1st look
    asyncio.run(watch.assigned(None, signal=None))  # the assignment is done at last
    assert watch.rebalance_stuck(now=500.0) is None  # recovery may take long: not bounded
    app.rebalancing_count = 2  # a revocation begins and never ends
    assert watch.rebalance_stuck(now=600.0) is None
    app.rebalancing_count = 3  # another one: counted from when it was seen
    assert watch.rebalance_stuck(now=650.0) is None
    assert watch.rebalance_stuck(now=717.0) == pytest.approx(67.0)
    assert watch.status()["rebalance_seconds"] is not None
    app.should_stop = True  # stopping: faust skips the assignment of a rebalance begun now
    assert watch.rebalance_stuck(now=2_000.0) is None
    app.should_stop = False
    unbounded = CommitWatch(app, frozenset({tp.topic}), stall_timeout_s=10)
    assert unbounded.rebalance_stuck(now=0.0) is None
    assert unbounded.rebalance_stuck(now=10_000.0) is None


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("0", 0), ("2", 2)])
def test_standby_replicas_reach_the_faust_app(
    model: ScoringModel,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    expected: int,
) -> None:
    if setting is not None:
        monkeypatch.setenv("NURTURE_WORKER_STANDBY_REPLICAS", setting)
    settings = WorkerSettings.given(store={"data_dir": tmp_path})  # standby from the env
    worker = build_worker(settings, KafkaSettings(), WorkerInputs(model, partitions=3))
    assert settings.store.standby_replicas == expected
    assert worker.app.conf.table_standby_replicas == expected


def test_the_worker_bounds_a_rebalance_by_the_rebalance_timeout_and_learns_its_assignments(
    model: ScoringModel, tmp_path: Any
) -> None:
    worker = build_worker(
        WorkerSettings.given(store={"data_dir": tmp_path}),
        KafkaSettings(),
        WorkerInputs(model, partitions=3),
    )
    conf = worker.app.conf
    assert worker.watch.rebalance_limit_s == conf.broker_rebalance_timeout + 30.0 == 90.0
    worker.app.rebalancing_count = 4  # four rebalances began
    assert worker.watch.rebalance_stuck(now=0.0) is None
    asyncio.run(worker.app.on_partitions_assigned.send(set()))  # the fourth one's is done
    assert worker.watch.rebalance_stuck(now=10_000.0) is None
    worker.app.rebalancing_count = 5
    assert worker.watch.rebalance_stuck(now=10_000.0) is None  # seen now: not stuck yet
    assert worker.watch.rebalance_stuck(now=10_091.0) == pytest.approx(91.0)
