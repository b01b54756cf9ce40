"""Guards at decision time: consent, unsubscribes, erasure, frequency caps, quiet hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from schemas.models import NurtureAction
from schemas.timestamps import from_micros, to_micros
from streams.campaigns import REASONS
from tests.test_campaigns_support import (
    DAY_US,
    HOUR_US,
    T0,
    WELCOME,
    Driver,
    consent,
    engine,
    event,
    view,
)

#: No quiet hours, so cap tests see only caps.
NO_QUIET = {"quiet_hours": {"start": "00:00", "end": "00:00"}}


def utc(*parts: int) -> int:
    return to_micros(datetime(*parts, tzinfo=UTC))  # type: ignore[arg-type,misc]


def reasons(drive: Driver) -> list[tuple[str, str | None]]:
    return [(o.step_id, o.reason) for o in drive.outcomes]


def test_no_consent_record_suppresses_with_a_reason() -> None:
    drive = Driver(engine(WELCOME), view(consents={}))
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 22 * DAY_US)
    assert reasons(drive) == [
        ("hello", "consent_missing"),
        ("digest", "consent_missing"),
        ("invite", "consent_missing"),
    ]
    assert drive.actions == []


def test_a_consent_not_yet_granted_is_missing() -> None:
    later = {"email": consent(T0 + DAY_US), "events": consent()}
    drive = Driver(engine(WELCOME), view(consents=later))
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 8 * DAY_US)
    assert reasons(drive) == [("hello", "consent_missing"), ("digest", None)]


def test_consent_withdrawn_mid_sequence() -> None:
    consents = {"email": consent(withdrawn_us=T0 + 3 * DAY_US), "events": consent()}
    drive = Driver(engine(WELCOME), view(consents=consents))
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 22 * DAY_US)
    # The invite needs the `events` consent, which still holds.
    assert reasons(drive) == [("hello", None), ("digest", "consent_withdrawn"), ("invite", None)]


def test_consent_expired_mid_sequence() -> None:
    consents = {"email": consent(expires_us=T0 + 5 * DAY_US), "events": consent()}
    drive = Driver(engine(WELCOME), view(consents=consents))
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 22 * DAY_US)
    assert reasons(drive) == [("hello", None), ("digest", "consent_expired"), ("invite", None)]


STAYS = WELCOME.replace("exit: {goals: [application_submitted, unsubscribed]}", "")


def test_unsubscribed_per_channel_until_a_new_opt_in() -> None:
    drive = Driver(engine(STAYS), view())
    drive.event("talent_pool_joined", T0)
    drive.event("unsubscribed", T0 + DAY_US, channel="email")
    drive.run_until(T0 + 22 * DAY_US)
    assert reasons(drive) == [("hello", None), ("digest", "unsubscribed"), ("invite", None)]

    opted_in_again = view(consents={"email": consent(T0 + 2 * DAY_US), "events": consent()})
    again = Driver(engine(STAYS), opted_in_again)
    again.event("unsubscribed", T0 + DAY_US, channel="email")
    again.event("talent_pool_joined", T0 + 3 * DAY_US)
    again.run_until(T0 + 11 * DAY_US)
    assert reasons(again) == [("hello", None), ("digest", None)]


def test_unsubscribed_from_all_and_global_suppression_lists() -> None:
    drive = Driver(engine(STAYS), view())
    drive.event("unsubscribed", T0 - DAY_US, channel="all")
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 22 * DAY_US)
    assert {reason for _, reason in reasons(drive)} == {"unsubscribed"}
    listed = replace(view(), unsubscribed=frozenset({"events"}))
    other = Driver(engine(STAYS), listed)
    other.event("talent_pool_joined", T0)
    other.run_until(T0 + 22 * DAY_US)
    assert reasons(other) == [("hello", None), ("digest", None), ("invite", "unsubscribed")]


AUDIENCE = """
id: ads
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: add
    action: {channel: ad_audience, audience: pool, op: add}
  - id: remove
    wait: 1d
    action: {channel: ad_audience, audience: pool, op: remove}
"""


def test_removing_from_an_audience_is_never_refused_for_consent() -> None:
    drive = Driver(engine(AUDIENCE), view(consents={}))
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 2 * DAY_US)
    assert reasons(drive) == [("add", "consent_missing"), ("remove", None)]


def test_erased_candidates_get_nothing() -> None:
    erased = replace(view(), erased=True)
    decision = engine(WELCOME).on_event(None, erased, event("talent_pool_joined", T0))
    assert decision.outcomes == () and decision.entered == ()
    drive = Driver(engine(AUDIENCE), view())
    drive.event("talent_pool_joined", T0)
    drive.candidate = erased
    drive.run_until(T0 + 2 * DAY_US)
    assert reasons(drive) == [("add", None), ("remove", "erased")]


SECOND = """
id: second
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: jobs
    action: {channel: email, template: jobs}
  - id: alert
    action: {channel: recruiter_alert}
  - id: receipt
    transactional: true
    action: {channel: email, template: receipt}
"""


def test_the_daily_cap_spans_campaigns() -> None:
    drive = Driver(engine(WELCOME, SECOND, policy=NO_QUIET), view())
    drive.event("talent_pool_joined", T0)
    # Campaigns decide in id order: "second" first, so welcome's hello hits the cap.
    assert reasons(drive) == [
        ("jobs", None),
        ("alert", None),  # recruiter alerts are exempt
        ("receipt", None),  # transactional steps are exempt
        ("hello", "cap_daily"),
    ]


WEEKLY = """
id: weekly
version: 1
trigger: {event: page_viewed}
reentry: after 0d
steps:
  - id: note
    action: {channel: email, template: note}
"""


def test_the_weekly_cap_counts_seven_local_days() -> None:
    drive = Driver(engine(WEEKLY, policy=NO_QUIET), view())
    for day in range(5):
        drive.event("page_viewed", T0 + day * DAY_US, url="https://x.test")
    drive.event("page_viewed", T0 + 7 * DAY_US, url="https://x.test")
    assert reasons(drive) == [
        ("note", None),
        ("note", None),
        ("note", None),
        ("note", "cap_weekly"),
        ("note", "cap_weekly"),
        ("note", None),  # day 7: the first send (day 0) left the 7-day window
    ]


def test_caps_use_the_candidates_calendar_day() -> None:
    # 2025-03-03 22:00 and 2025-03-03 10:00 in New York are one local day but two UTC days.
    new_yorker = view(time_zone="America/New_York")
    drive = Driver(engine(WEEKLY, policy=NO_QUIET), new_yorker)
    drive.event("page_viewed", utc(2025, 3, 3, 15), url="https://x.test")
    drive.event("page_viewed", utc(2025, 3, 4, 3), url="https://x.test")
    drive.event("page_viewed", utc(2025, 3, 4, 6), url="https://x.test")  # 01:00 on the 4th
    assert reasons(drive) == [("note", None), ("note", "cap_daily"), ("note", None)]


def test_quiet_hours_in_two_time_zones_hold_then_release() -> None:
    london = Driver(engine(WELCOME), view(time_zone="Europe/London"))
    london.event("talent_pool_joined", T0)  # 10:00 in London
    assert london.steps("emitted") == [("welcome", "hello", None)]

    new_york = Driver(engine(WELCOME), view(time_zone="America/New_York"))
    decision = new_york.event("talent_pool_joined", T0)  # 05:00 in New York
    (held,) = decision.held
    assert held.release_us == utc(2025, 3, 3, 13)  # 08:00 EST
    assert decision.actions == []
    assert decision.timers_set == (held.release_us,)
    new_york.run_until(utc(2025, 3, 3, 12, 59))
    assert new_york.actions == []
    new_york.run_until(utc(2025, 3, 3, 13, 1))
    (released,) = new_york.actions
    assert released["action_id"] == held.action_id
    assert released["decided_at"] == from_micros(T0)
    assert released["not_before"] == from_micros(held.release_us)
    NurtureAction.model_validate(released)


def test_quiet_hours_across_midnight_and_dst() -> None:
    tokyo = Driver(engine(WELCOME), view(time_zone="Asia/Tokyo"))
    decision = tokyo.event("talent_pool_joined", utc(2025, 3, 3, 12, 30))  # 21:30 JST
    assert decision.held[0].release_us == utc(2025, 3, 3, 23)  # 08:00 JST the next day
    # Berlin switches to summer time on 2025-03-30: 08:00 CEST is 06:00 UTC.
    berlin = Driver(engine(WELCOME), view(time_zone="Europe/Berlin"))
    decision = berlin.event("talent_pool_joined", utc(2025, 3, 29, 22))  # 23:00 CET
    assert decision.held[0].release_us == utc(2025, 3, 30, 6)


def test_a_held_action_is_cancelled_by_an_exit_or_lost_consent() -> None:
    new_york = Driver(engine(WELCOME), view(time_zone="America/New_York"))
    new_york.event("talent_pool_joined", T0)
    new_york.event("application_submitted", T0 + HOUR_US, job_id="1")
    new_york.run_until(T0 + DAY_US)
    assert [(o.status, o.reason) for o in new_york.outcomes] == [
        ("held", None),
        ("suppressed", "exited"),
    ]
    assert new_york.state is not None and new_york.state["sent"] == {}, "the cap slot is freed"

    withdrawn = {"email": consent(withdrawn_us=T0 + HOUR_US), "events": consent()}
    later = Driver(engine(WELCOME), view(time_zone="America/New_York", consents=withdrawn))
    later.event("talent_pool_joined", T0)
    later.run_until(T0 + DAY_US)
    assert [(o.status, o.reason) for o in later.outcomes] == [
        ("held", None),
        ("suppressed", "consent_withdrawn"),
    ]


def test_a_held_action_counts_on_its_release_day() -> None:
    # Held from 23:00 until 08:00 the next day: it uses the next day's budget, not today's.
    drive = Driver(engine(WEEKLY), view())
    drive.event("page_viewed", utc(2025, 3, 3, 23), url="https://x.test")
    drive.event("page_viewed", utc(2025, 3, 4, 9), url="https://x.test")
    assert [(o.status, o.reason) for o in drive.outcomes] == [
        ("held", None),
        ("emitted", None),  # the release at 08:00, fired by the 09:00 event
        ("suppressed", "cap_daily"),
    ]
    alerts = WEEKLY.replace("id: weekly", "id: alerts").replace(
        "page_viewed", "job_alert_subscribed"
    )
    late = Driver(engine(WEEKLY, alerts), view())
    late.event("page_viewed", utc(2025, 3, 3, 23), url="https://x.test")
    late.event("job_alert_subscribed", utc(2025, 3, 3, 20))  # arrives late: today is still free
    assert [(o.status, o.reason) for o in late.outcomes] == [("held", None), ("emitted", None)]


def test_reasons_are_a_small_fixed_set() -> None:
    assert len(REASONS) == len(set(REASONS)) == 9
