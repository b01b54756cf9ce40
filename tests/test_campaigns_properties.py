"""Properties: decisions are deterministic, independent of tick timing, idempotent on redelivery."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.campaigns import Engine, TierChange, load_campaigns, load_catalog
from tests.test_campaigns_support import DAY_US, MINUTE_US, T0, Driver, event, view

ENGINE = Engine(load_campaigns(), load_catalog())
TIERS = ("cold", "warm", "engaged", "hot")
END = T0 + 200 * DAY_US

#: (event type, payload) the strategies draw from: triggers, goals, noise and unsubscribes.
EVENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("talent_pool_joined", {"pool_id": "p"}),
    ("page_viewed", {"url": "https://x.test"}),
    ("email_opened", {}),
    ("application_submitted", {"job_id": "1"}),
    ("email_replied", {}),
    ("career_event_registered", {"career_event_id": "e"}),
    ("unsubscribed", {"channel": "email"}),
    ("unsubscribed", {"channel": "all"}),
)

Step = tuple[int, int, int]  # (event index, minutes after the previous event, tier index)
journeys = st.lists(
    st.tuples(
        st.integers(0, len(EVENTS) - 1),
        st.integers(0, 40 * 24 * 60),
        st.integers(0, len(TIERS) - 1),
    ),
    min_size=1,
    max_size=12,
)
zones = st.sampled_from(["Europe/London", "America/New_York", "Asia/Tokyo", "UTC"])


def play(steps: list[Step], time_zone: str, ticks: list[int] | None = None) -> Driver:
    """Drive one candidate through ``steps`` (time-ordered), with optional extra ticks."""
    drive = Driver(ENGINE, view(time_zone=time_zone, tier="cold"))
    at, tier = T0, "cold"
    pending_ticks = sorted(ticks or [])
    for number, (kind, minutes, tier_index) in enumerate(steps):
        at += minutes * MINUTE_US
        while pending_ticks and pending_ticks[0] <= at:
            drive.run_until(pending_ticks.pop(0))
        new_tier = TIERS[tier_index]
        change = TierChange(tier, new_tier) if new_tier != tier else None
        drive.candidate = view(time_zone=time_zone, tier=new_tier)
        tier = new_tier
        event_type, payload = EVENTS[kind]
        drive.event(event_type, at, event_id=f"ev-{number}", tier_change=change, **payload)
    drive.run_until(END)
    return drive


def summary(drive: Driver) -> list[tuple[Any, ...]]:
    return [
        (o.campaign_id, o.step_id, o.status, o.reason, o.action_id, o.decided_us, o.action)
        for o in drive.outcomes
    ]


@settings(max_examples=60, deadline=None)
@given(journeys, zones)
def test_the_same_events_twice_give_identical_actions(steps: list[Step], zone: str) -> None:
    first, second = play(steps, zone), play(steps, zone)
    assert summary(first) == summary(second)
    assert first.actions == second.actions
    assert first.state == second.state


@settings(max_examples=60, deadline=None)
@given(journeys, zones, st.lists(st.integers(0, 200 * 24 * 60), max_size=30))
def test_when_timers_tick_never_changes_what_is_decided(
    steps: list[Step], zone: str, tick_minutes: list[int]
) -> None:
    lazy = play(steps, zone)
    eager = play(steps, zone, [T0 + minutes * MINUTE_US for minutes in tick_minutes])
    assert summary(eager) == summary(lazy)


@settings(max_examples=60, deadline=None)
@given(journeys, zones)
def test_a_redelivered_event_never_creates_a_new_action(steps: list[Step], zone: str) -> None:
    drive = play(steps[:-1], zone) if len(steps) > 1 else Driver(ENGINE, view(time_zone=zone))
    kind, _, _ = steps[-1]
    event_type, payload = EVENTS[kind]
    at = T0 + 250 * DAY_US
    once = drive.event(event_type, at, event_id="again", **payload)
    redelivered = event(event_type, at, "again", **payload)
    twice = drive.engine.on_event(drive.state, drive.candidate, redelivered)
    assert {o.action_id for o in twice.outcomes} <= {o.action_id for o in once.outcomes}
    assert twice.entered == ()
