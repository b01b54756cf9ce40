"""Campaign timers in the worker against the real broker: waits, exits, re-entry, quiet hours,
inactivity, erasure (streams/worker/processor.py ``TimerProcessor``, ``StreamClock``).

Most tests run the worker on the *stream clock*: timers follow the latest event time of each
partition, so a test moves time forward by publishing a "clock" candidate's page views on the
same partition, and the outcome does not depend on today's date or the machine's speed. One
test runs the wall clock (live mode) with an event in the past.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for, encode
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, PROFILE
from streams.loadgen import publish
from streams.worker.outbox import key_partition
from streams.worker.probe import WorkerProcess
from tests.kafka_helpers import read_all, unique, wait_until
from tests.worker_support import WorkerHarness, answering, metric_value

pytestmark = pytest.mark.kafka

#: Monday 2025-03-03 10:00 UTC: 10:00 in London, 05:00 in New York, 19:00 in Tokyo.
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
PARTITIONS = 3  # tests/conftest.py creates every topic with 3 partitions

SEQUENCE = """
id: sequence
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: one
    action: {channel: email, template: welcome-talent-pool}
  - id: two
    wait: 7d
    action: {channel: email, template: blog-digest}
  - id: three
    wait: 14d
    action: {channel: email, template: blog-digest}
exit: {goals: [application_submitted]}
reentry: after 30d
"""

WINBACK = """
id: winback
version: 1
trigger: {inactivity: {after: 10d}}
conditions: {not_within: {talent_pool_joined: 365d}}
steps:
  - id: nudge
    action: {channel: webhook, endpoint: crm}
"""

POLICY = """
consent_channels:
  {email: email, career_event_invite: events, ad_audience: ads, recruiter_alert: null,
   webhook: null}
caps:
  - {name: marketing-email, channels: [email], daily: 1, weekly: 3}
quiet_hours: {start: "21:00", end: "08:00", channels: [email]}
"""


PAYLOADS: dict[str, dict[str, Any]] = {
    "talent_pool_joined": {"pool_id": "pool-1"},
    "page_viewed": {"url": "https://careers.example.com/jobs/1", "page_type": "job"},
    "application_submitted": {"job_id": "job-1", "job_family": "engineering"},
}


def _ids_on_partition(prefix: str, count: int, partition: int = 0) -> list[str]:
    """``count`` candidate ids whose events land on ``partition`` (the stream clock is kept
    per partition: the clock candidate must share it with the others)."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        candidate = f"{prefix}-{n}"
        if key_partition(candidate.encode(), PARTITIONS) == partition:
            found.append(candidate)
        n += 1
    return found


def _profile(candidate_id: str, time_zone: str = "Europe/London") -> tuple[bytes, bytes]:
    granted = {"granted": True, "granted_at": T0 - timedelta(days=30)}
    record = {
        "candidate_id": candidate_id,
        "contact": {"email": f"{candidate_id}@example.com"},
        "locale": "en-GB",
        "time_zone": time_zone,
        "consents": {"email": granted},
        "updated_at": T0 - timedelta(days=30),
        "source": "test",
    }
    return candidate_id.encode(), encode("candidate_profile", record)


def _event(candidate_id: str, kind: str, at: datetime, n: int = 0) -> tuple[bytes, bytes]:
    record = {
        "event_id": f"{candidate_id}-{kind}-{int(at.timestamp())}-{n}",
        "type": kind,
        "candidate_id": candidate_id,
        "occurred_at": at,
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": PAYLOADS[kind],
    }
    return candidate_id.encode(), activity_codec().encode(record)


class TimerRun:
    """One worker with the test's campaigns on the test's topics, and its published actions."""

    def __init__(self, kafka: KafkaSettings, tmp: Path, clock: str, campaigns: dict[str, str]):
        folder = tmp / "campaigns"
        folder.mkdir()
        for name, text in campaigns.items():
            (folder / f"{name}.yaml").write_text(text)
        self.kafka = kafka
        self.harness = WorkerHarness(
            kafka,
            tmp,
            unique("timers"),
            "memory://",
            env={
                "NURTURE_WORKER_CLOCK": clock,
                "NURTURE_WORKER_CAMPAIGNS_PATH": str(folder),
                "NURTURE_WORKER_TIMER_INTERVAL_S": "0.5",
            },
        )
        self.worker: WorkerProcess | None = None

    def start(self, profiles: list[tuple[bytes, bytes]]) -> None:
        publish(self.kafka, self.kafka.topic(PROFILE), profiles)
        self.worker = answering(self.harness.worker().start(), self.harness)
        port = self.worker.port

        def kept() -> bool:
            labels = {"outcome": "profile"}
            return metric_value(port, "nurture_worker_profile_records_total", labels) >= len(
                profiles
            )

        wait_until(kept, timeout_s=60, what="the profiles in the worker's rows")

    def send(self, events: list[tuple[bytes, bytes]]) -> None:
        """Publish ``events`` and wait until the worker committed past them."""
        publish(self.kafka, self.kafka.topic(ACTIVITY), events)
        self.harness.wait_caught_up(alive=self.worker)

    def actions(self, candidate_id: str | None = None) -> list[dict[str, Any]]:
        decode = codec_for("nurture_action").decode
        found = [decode(m.value) for m in read_all(self.kafka, self.kafka.topic(ACTION))]
        return [a for a in found if candidate_id is None or a["candidate_id"] == candidate_id]

    def steps(self, candidate_id: str) -> list[str]:
        return [a["step_id"] for a in self.actions(candidate_id)]

    def close(self) -> None:
        self.harness.close()


@pytest.fixture
def run_stream(kafka: KafkaSettings, tmp_path: Path) -> Iterator[TimerRun]:
    run = TimerRun(
        kafka,
        tmp_path,
        "stream",
        {"sequence": SEQUENCE, "winback": WINBACK, "policy": POLICY},
    )
    yield run
    run.close()


def test_sequence_waits_exit_on_application_reentry_and_inactivity(run_stream: TimerRun) -> None:
    applies, finishes, busy, quiet, clock = _ids_on_partition(unique("seq"), 5)
    run = run_stream
    run.start([_profile(c) for c in (applies, finishes, busy, quiet)])

    def tick(at: datetime, n: int = 0) -> tuple[bytes, bytes]:
        return _event(clock, "page_viewed", at, n)

    # Day 0: two candidates join; two others are merely active (inactivity candidates).
    run.send(
        [
            _event(applies, "talent_pool_joined", T0),
            _event(finishes, "talent_pool_joined", T0),
            _event(busy, "talent_pool_joined", T0 - timedelta(days=400)),
            _event(busy, "page_viewed", T0),
            _event(quiet, "talent_pool_joined", T0 - timedelta(days=400)),
            _event(quiet, "page_viewed", T0),
            _event(clock, "talent_pool_joined", T0 - timedelta(days=400)),
        ]
    )
    assert run.steps(applies) == ["one"] and run.steps(finishes) == ["one"]

    run.send([_event(busy, "page_viewed", T0 + timedelta(days=5)), tick(T0 + timedelta(days=6))])
    assert run.steps(applies) == ["one"], "step two is due on day 7, not before"

    run.send([tick(T0 + timedelta(days=8), 1)])
    assert run.steps(applies) == ["one", "two"] and run.steps(finishes) == ["one", "two"]
    two = run.actions(applies)[1]
    assert two["decided_at"] == T0 + timedelta(days=7), "decided at its due time, not the tick's"

    # Inactivity: ten days without events. ``quiet`` was last seen on day 0, ``busy`` on day 5.
    applied = _event(applies, "application_submitted", T0 + timedelta(days=10))
    run.send([applied, tick(T0 + timedelta(days=11), 2)])
    assert run.steps(quiet) == ["nudge"] and run.steps(busy) == []
    run.send([tick(T0 + timedelta(days=16), 3)])
    assert run.steps(busy) == ["nudge"]

    run.send([tick(T0 + timedelta(days=22), 4)])
    assert run.steps(finishes) == ["one", "two", "three"]
    assert run.steps(applies) == ["one", "two"], "the application ended the sequence"

    # Re-entry after 30 days: a join on day 25 is ignored, one on day 31 starts again.
    run.send([_event(finishes, "talent_pool_joined", T0 + timedelta(days=25))])
    assert run.steps(finishes) == ["one", "two", "three"]
    run.send([_event(finishes, "talent_pool_joined", T0 + timedelta(days=31))])
    assert run.steps(finishes) == ["one", "two", "three", "one"]

    ids = [a["action_id"] for a in run.actions()]
    assert len(ids) == len(set(ids)), "every decision once"
    assert run.worker is not None
    assert metric_value(run.worker.port, "nurture_worker_timer_wakeups_total", {}) > 0


def test_quiet_hours_hold_then_send_in_two_time_zones(run_stream: TimerRun) -> None:
    new_york, tokyo, london, clock = _ids_on_partition(unique("tz"), 4)
    run = run_stream
    run.start(
        [
            _profile(new_york, "America/New_York"),
            _profile(tokyo, "Asia/Tokyo"),
            _profile(london, "Europe/London"),
        ]
    )
    late = T0 + timedelta(hours=3)  # 13:00 UTC: 08:00 in New York, 22:00 in Tokyo
    run.send(
        [
            _event(new_york, "talent_pool_joined", T0),  # 05:00 local: held until 08:00
            _event(london, "talent_pool_joined", T0),  # 10:00 local: sent at once
            _event(tokyo, "talent_pool_joined", late),  # 22:00 local: held until 08:00
            _event(clock, "talent_pool_joined", T0 - timedelta(days=400)),
        ]
    )
    assert run.steps(london) == ["one"]
    assert run.steps(new_york) == [] and run.steps(tokyo) == []
    assert run.worker is not None
    held = {"campaign": "sequence"}
    assert metric_value(run.worker.port, "nurture_actions_held_total", held) == 2

    run.send([_event(clock, "page_viewed", T0 + timedelta(hours=3, minutes=2))])
    assert run.steps(new_york) == ["one"] and run.steps(tokyo) == []
    released = run.actions(new_york)[0]
    assert released["decided_at"] == T0, "decided when the candidate joined"
    assert released["not_before"] == T0 + timedelta(hours=3), "held until 08:00 New York time"

    # Tokyo's 08:00 is 23:00 UTC.
    run.send([_event(clock, "page_viewed", T0 + timedelta(hours=13, minutes=2))])
    assert run.steps(tokyo) == ["one"]
    assert run.actions(tokyo)[0]["not_before"] == T0 + timedelta(hours=13)


def test_erasure_cancels_the_sequence_and_later_events_are_dropped(run_stream: TimerRun) -> None:
    erased, kept, clock = _ids_on_partition(unique("erase"), 3)
    run = run_stream
    run.start([_profile(erased), _profile(kept)])
    run.send(
        [
            _event(erased, "talent_pool_joined", T0),
            _event(kept, "talent_pool_joined", T0),
            _event(clock, "talent_pool_joined", T0 - timedelta(days=400)),
        ]
    )
    request = {
        "request_id": unique("erasure"),
        "candidate_id": erased,
        "requested_at": T0 + timedelta(days=1),
        "source": "test",
        "reason": "gdpr_art17",
    }
    erasure = (erased.encode(), encode("erasure_request", request))
    publish(run.kafka, run.kafka.topic(PROFILE), [erasure])
    assert run.worker is not None
    port = run.worker.port

    def processed() -> bool:
        labels = {"outcome": "erasure"}
        return metric_value(port, "nurture_worker_profile_records_total", labels) == 1

    wait_until(processed, timeout_s=30, what="the erasure request processed")
    run.send(
        [
            _event(erased, "page_viewed", T0 + timedelta(days=2)),  # late: dropped, counted
            _event(clock, "page_viewed", T0 + timedelta(days=8)),
        ]
    )
    assert run.steps(kept) == ["one", "two"]
    assert run.steps(erased) == ["one"], "no step after the erasure"
    assert metric_value(port, "nurture_worker_events_total", {"outcome": "erased"}) == 1


def test_wall_clock_fires_overdue_steps_at_once(kafka: KafkaSettings, tmp_path: Path) -> None:
    alert = """
id: follow-up
version: 1
trigger: {event: application_submitted}
steps:
  - id: now
    action: {channel: recruiter_alert, template: hot-candidate-alert}
  - id: week-later
    wait: 7d
    action: {channel: recruiter_alert, template: hot-candidate-alert}
  - id: month-later
    wait: 30d
    action: {channel: recruiter_alert, template: hot-candidate-alert}
"""
    run = TimerRun(kafka, tmp_path, "wall", {"follow-up": alert})
    try:
        candidate = unique("wall")
        run.start([_profile(candidate)])
        applied = datetime.now(UTC) - timedelta(days=8)
        run.send([_event(candidate, "application_submitted", applied)])
        # Decided at the event: step "now". The wall clock then finds "week-later" overdue.
        wait_until(
            lambda: run.steps(candidate) == ["now", "week-later"] or None,
            timeout_s=30,
            what="the overdue step fired by the wall-clock timer",
        )
        assert run.actions(candidate)[1]["decided_at"] == applied + timedelta(days=7)
    finally:
        run.close()
