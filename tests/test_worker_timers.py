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

import pytest

from schemas.codec import encode
from schemas.settings import KafkaSettings
from schemas.topics import PROFILE
from streams.bench.loadgen import publish
from tests.campaign_worker_support import (
    T0,
    TimerRun,
    event_record,
    ids_on_partition,
    profile_record,
)
from tests.kafka_helpers import unique, wait_until
from tests.worker_support import metric_value

pytestmark = pytest.mark.kafka

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
    applies, finishes, busy, quiet, clock = ids_on_partition(unique("seq"), 5)
    run = run_stream
    run.start([profile_record(c) for c in (applies, finishes, busy, quiet)])

    def tick(at: datetime, n: int = 0) -> tuple[bytes, bytes]:
        return event_record(clock, "page_viewed", at, n)

    # Day 0: two candidates join; two others are merely active (inactivity candidates).
    run.send(
        [
            event_record(applies, "talent_pool_joined", T0),
            event_record(finishes, "talent_pool_joined", T0),
            event_record(busy, "talent_pool_joined", T0 - timedelta(days=400)),
            event_record(busy, "page_viewed", T0),
            event_record(quiet, "talent_pool_joined", T0 - timedelta(days=400)),
            event_record(quiet, "page_viewed", T0),
            event_record(clock, "talent_pool_joined", T0 - timedelta(days=400)),
        ]
    )
    assert run.steps(applies) == ["one"] and run.steps(finishes) == ["one"]

    run.send(
        [event_record(busy, "page_viewed", T0 + timedelta(days=5)), tick(T0 + timedelta(days=6))]
    )
    assert run.steps(applies) == ["one"], "step two is due on day 7, not before"

    run.send([tick(T0 + timedelta(days=8), 1)])
    assert run.steps(applies) == ["one", "two"] and run.steps(finishes) == ["one", "two"]
    two = run.actions(applies)[1]
    assert two["decided_at"] == T0 + timedelta(days=7), "decided at its due time, not the tick's"

    # Inactivity: ten days without events. ``quiet`` was last seen on day 0, ``busy`` on day 5.
    applied = event_record(applies, "application_submitted", T0 + timedelta(days=10))
    run.send([applied, tick(T0 + timedelta(days=11), 2)])
    assert run.steps(quiet) == ["nudge"] and run.steps(busy) == []
    run.send([tick(T0 + timedelta(days=16), 3)])
    assert run.steps(busy) == ["nudge"]

    run.send([tick(T0 + timedelta(days=22), 4)])
    assert run.steps(finishes) == ["one", "two", "three"]
    assert run.steps(applies) == ["one", "two"], "the application ended the sequence"

    # Re-entry after 30 days: a join on day 25 is ignored, one on day 31 starts again.
    run.send([event_record(finishes, "talent_pool_joined", T0 + timedelta(days=25))])
    assert run.steps(finishes) == ["one", "two", "three"]
    run.send([event_record(finishes, "talent_pool_joined", T0 + timedelta(days=31))])
    assert run.steps(finishes) == ["one", "two", "three", "one"]

    ids = [a["action_id"] for a in run.actions()]
    assert len(ids) == len(set(ids)), "every decision once"
    assert run.worker is not None
    assert metric_value(run.worker.port, "nurture_worker_timer_wakeups_total", {}) > 0


def test_quiet_hours_hold_then_send_in_two_time_zones(run_stream: TimerRun) -> None:
    new_york, tokyo, london, clock = ids_on_partition(unique("tz"), 4)
    run = run_stream
    run.start(
        [
            profile_record(new_york, "America/New_York"),
            profile_record(tokyo, "Asia/Tokyo"),
            profile_record(london, "Europe/London"),
        ]
    )
    late = T0 + timedelta(hours=3)  # 13:00 UTC: 08:00 in New York, 22:00 in Tokyo
    run.send(
        [
            event_record(new_york, "talent_pool_joined", T0),  # 05:00 local: held until 08:00
            event_record(london, "talent_pool_joined", T0),  # 10:00 local: sent at once
            event_record(tokyo, "talent_pool_joined", late),  # 22:00 local: held until 08:00
            event_record(clock, "talent_pool_joined", T0 - timedelta(days=400)),
        ]
    )
    assert run.steps(london) == ["one"]
    assert run.steps(new_york) == [] and run.steps(tokyo) == []
    assert run.worker is not None
    held = {"campaign": "sequence"}
    assert metric_value(run.worker.port, "nurture_actions_held_total", held) == 2

    run.send([event_record(clock, "page_viewed", T0 + timedelta(hours=3, minutes=2))])
    assert run.steps(new_york) == ["one"] and run.steps(tokyo) == []
    released = run.actions(new_york)[0]
    assert released["decided_at"] == T0, "decided when the candidate joined"
    assert released["not_before"] == T0 + timedelta(hours=3), "held until 08:00 New York time"

    # Tokyo's 08:00 is 23:00 UTC.
    run.send([event_record(clock, "page_viewed", T0 + timedelta(hours=13, minutes=2))])
    assert run.steps(tokyo) == ["one"]
    assert run.actions(tokyo)[0]["not_before"] == T0 + timedelta(hours=13)


def test_erasure_cancels_the_sequence_and_later_events_are_dropped(run_stream: TimerRun) -> None:
    erased, kept, clock = ids_on_partition(unique("erase"), 3)
    run = run_stream
    run.start([profile_record(erased), profile_record(kept)])
    run.send(
        [
            event_record(erased, "talent_pool_joined", T0),
            event_record(kept, "talent_pool_joined", T0),
            event_record(clock, "talent_pool_joined", T0 - timedelta(days=400)),
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
            event_record(erased, "page_viewed", T0 + timedelta(days=2)),  # late: dropped, counted
            event_record(clock, "page_viewed", T0 + timedelta(days=8)),
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
        run.start([profile_record(candidate)])
        applied = datetime.now(UTC) - timedelta(days=8)
        run.send([event_record(candidate, "application_submitted", applied)])
        # Decided at the event: step "now". The wall clock then finds "week-later" overdue.
        wait_until(
            lambda: run.steps(candidate) == ["now", "week-later"] or None,
            timeout_s=30,
            what="the overdue step fired by the wall-clock timer",
        )
        assert run.actions(candidate)[1]["decided_at"] == applied + timedelta(days=7)
    finally:
        run.close()
