"""The engine's decisions: triggers, multi-step sequences with waits, exits, re-entry, ids."""

from __future__ import annotations

from schemas.codec import codec_for
from schemas.models import NurtureAction
from schemas.timestamps import from_micros
from streams.campaigns import TierChange, action_id
from tests.test_campaigns_support import (
    DAY_US,
    MINUTE_US,
    T0,
    WELCOME,
    Driver,
    engine,
    event,
    view,
)


def test_an_event_trigger_emits_a_valid_encodable_action() -> None:
    decision = engine(WELCOME).on_event(None, view(), event("talent_pool_joined", T0, "ev-1"))
    assert decision.entered == ("welcome",)
    (record,) = decision.actions
    action = NurtureAction.model_validate(record)
    assert action.action_id == action_id("cand-1", "welcome", "hello", "ev-1")
    assert (action.campaign_id, action.campaign_version, action.step_id) == ("welcome", 1, "hello")
    assert (action.channel, action.template_id, action.trigger_event_id) == (
        "email",
        "hello",
        "ev-1",
    )
    assert action.decided_at == from_micros(T0)
    assert action.not_before is None
    assert action.model_version == "2025.1"
    assert action.params == {"language": "en"}
    assert codec_for("nurture_action").decode(codec_for("nurture_action").encode(record))
    assert decision.timers_set == (T0 + 7 * DAY_US,)


def test_three_steps_with_waits_each_decided_when_due() -> None:
    drive = Driver(engine(WELCOME), view())
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 7 * DAY_US - MINUTE_US)
    assert drive.steps() == [("welcome", "hello", None)]
    drive.run_until(T0 + 7 * DAY_US + MINUTE_US)
    drive.run_until(T0 + 21 * DAY_US + MINUTE_US)
    assert drive.steps("emitted") == [
        ("welcome", "hello", None),
        ("welcome", "digest", None),
        ("welcome", "invite", None),
    ]
    decided = [o.decided_us - T0 for o in drive.outcomes]
    assert decided == [0, 7 * DAY_US, 21 * DAY_US]
    digest, invite = drive.actions[1], drive.actions[2]
    assert [c["kind"] for c in digest["content"]] == ["blog_post", "blog_post"]
    assert invite["channel"] == "career_event_invite"
    assert invite["content"][0]["kind"] == "career_event"
    assert invite["content"][0]["starts_at"] > from_micros(T0 + 21 * DAY_US)
    assert drive.state is not None
    assert drive.state["active"] == {}
    assert drive.state["history"]["welcome"]["why"] == "completed"
    for record in drive.actions:
        NurtureAction.model_validate(record)


def test_an_application_exits_the_sequence() -> None:
    drive = Driver(engine(WELCOME), view())
    drive.event("talent_pool_joined", T0)
    decision = drive.event("application_submitted", T0 + 3 * DAY_US, job_id="4711")
    assert decision.exited == (("welcome", "goal:application_submitted"),)
    drive.run_until(T0 + 60 * DAY_US)
    assert drive.steps() == [("welcome", "hello", None)]
    assert drive.state is not None and drive.state["active"] == {}


def test_a_goal_before_the_wait_ends_even_without_a_timer_tick() -> None:
    # No tick between: the event alone must see that the digest (day 7) was due before it.
    drive = Driver(engine(WELCOME), view())
    drive.event("talent_pool_joined", T0)
    drive.event("application_submitted", T0 + 10 * DAY_US, job_id="4711")
    assert drive.steps() == [("welcome", "hello", None), ("welcome", "digest", None)]
    assert drive.outcomes[1].decided_us == T0 + 7 * DAY_US


TIERED = """
id: hot
version: 3
trigger: {tier: {from: warm, to: hot}}
steps:
  - id: alert
    action: {channel: recruiter_alert, template: hot-alert}
  - id: audience
    action: {channel: ad_audience, audience: hot-candidates, op: add}
reentry: after 30d
"""


def test_a_tier_transition_trigger() -> None:
    hot = engine(TIERED)
    page = event("page_viewed", T0, url="https://x.test")
    assert not hot.on_event(None, view(), page).outcomes
    wrong_from = hot.on_event(None, view(), page, tier_change=TierChange("cold", "hot"))
    assert not wrong_from.outcomes
    wrong_to = hot.on_event(None, view(), page, tier_change=TierChange("warm", "engaged"))
    assert not wrong_to.outcomes
    decision = hot.on_event(None, view(tier="hot"), page, tier_change=TierChange("warm", "hot"))
    alert, audience = decision.actions
    assert (alert["channel"], alert["params"], alert["campaign_version"]) == (
        "recruiter_alert",
        {"tier": "hot"},
        3,
    )
    assert (audience["audience"], audience["audience_op"]) == ("hot-candidates", "add")
    for record in decision.actions:
        NurtureAction.model_validate(record)


PROFILE_TRIGGERED = """
id: new-interests
version: 1
trigger: {profile_change: [interests, job_families]}
steps:
  - id: matching-jobs
    action:
      channel: email
      template: new-interests
      content: {kinds: [job_opening], count: 2, min: 1}
"""


def test_a_profile_change_trigger() -> None:
    decide = engine(PROFILE_TRIGGERED)
    before = view(interests=["python"])
    after = view(interests=["python", "machine-learning"])
    first = decide.on_profile_change(None, after, None, at_us=T0)
    assert not first.outcomes, "a first profile is no change"
    moved_only = view(interests=["python"], locations=["Berlin"])
    moved = decide.on_profile_change(None, moved_only, before, at_us=T0)
    assert not moved.outcomes, "locations are not among the trigger's fields"
    decision = decide.on_profile_change(None, after, before, at_us=T0)
    (record,) = decision.actions
    assert record["trigger_event_id"] == f"profile:{T0}"
    assert record["content"][0]["content_id"] == "job-ml-engineer-london"


INACTIVE = """
id: wake-up
version: 1
trigger: {inactivity: {after: 60d, ignore: [email_opened]}}
steps:
  - id: we-miss-you
    action: {channel: email, template: miss-you}
exit: {goals: [page_viewed]}
reentry: after 90d
"""


def test_an_inactivity_trigger_fires_once_per_quiet_spell() -> None:
    drive = Driver(engine(INACTIVE), view())
    drive.event("page_viewed", T0, url="https://x.test")
    drive.event("email_opened", T0 + 30 * DAY_US)  # ignored: does not count as activity
    drive.run_until(T0 + 60 * DAY_US - MINUTE_US)
    assert drive.outcomes == []
    drive.run_until(T0 + 61 * DAY_US)
    (fired,) = drive.actions
    assert fired["decided_at"] == from_micros(T0 + 60 * DAY_US)
    assert fired["trigger_event_id"] == f"inactivity:{T0}"
    drive.run_until(T0 + 300 * DAY_US)
    assert len(drive.actions) == 1, "the same quiet spell never fires twice"
    drive.event("page_viewed", T0 + 310 * DAY_US, url="https://x.test")
    drive.run_until(T0 + 371 * DAY_US)
    assert len(drive.actions) == 2
    assert drive.actions[1]["trigger_event_id"] == f"inactivity:{T0 + 310 * DAY_US}"


def test_inactivity_is_noticed_by_the_next_event_without_a_tick() -> None:
    drive = Driver(engine(INACTIVE), view())
    drive.event("page_viewed", T0, url="https://x.test")
    decision = drive.event("page_viewed", T0 + 70 * DAY_US, url="https://x.test")
    (record,) = decision.actions
    assert record["decided_at"] == from_micros(T0 + 60 * DAY_US)
    assert decision.exited == (("wake-up", "completed"),)


def test_reentry_never() -> None:
    drive = Driver(engine(WELCOME), view())
    drive.event("talent_pool_joined", T0, event_id="a")
    drive.run_until(T0 + 30 * DAY_US)
    again = drive.event("talent_pool_joined", T0 + 400 * DAY_US)
    assert again.entered == () and again.outcomes == ()


def test_reentry_after_n_days_counts_from_the_previous_entry() -> None:
    drive = Driver(engine(WELCOME.replace("reentry: never", "reentry: after 30d")), view())
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 22 * DAY_US)
    assert drive.event("talent_pool_joined", T0 + 25 * DAY_US).entered == ()
    assert drive.event("talent_pool_joined", T0 + 29 * DAY_US).entered == ()
    assert drive.event("talent_pool_joined", T0 + 30 * DAY_US).entered == ("welcome",)


def test_no_reentry_while_enrolled_or_for_the_same_trigger() -> None:
    decide = engine(WELCOME.replace("reentry: never", "reentry: after 0d"))
    first = decide.on_event(None, view(), event("talent_pool_joined", T0, "ev-1"))
    assert (
        decide.on_event(first.state, view(), event("talent_pool_joined", T0, "ev-2")).entered == ()
    )
    drive = Driver(decide, view())
    drive.event("talent_pool_joined", T0, event_id="ev-1")
    drive.run_until(T0 + 30 * DAY_US)
    redelivered = drive.engine.on_event(
        drive.state, view(), event("talent_pool_joined", T0, "ev-1")
    )
    assert redelivered.entered == ()


def test_the_same_input_gives_the_same_decision_and_ids() -> None:
    decide = engine(WELCOME)
    joined = event("talent_pool_joined", T0, "ev-1")
    first = decide.on_event(None, view(), joined)
    second = decide.on_event(None, view(), joined)
    assert first == second
    later = decide.on_timer(first.state, view(), T0 + 8 * DAY_US)
    assert later == decide.on_timer(first.state, view(), T0 + 8 * DAY_US)
    other = decide.on_event(None, view(), event("talent_pool_joined", T0, "ev-2"))
    assert other.actions[0]["action_id"] != first.actions[0]["action_id"]


def test_the_input_state_is_never_mutated() -> None:
    decide = engine(WELCOME)
    first = decide.on_event(None, view(), event("talent_pool_joined", T0))
    snapshot = repr(first.state)
    decide.on_timer(first.state, view(), T0 + 30 * DAY_US)
    decide.on_event(first.state, view(), event("application_submitted", T0 + DAY_US, job_id="1"))
    assert repr(first.state) == snapshot


def test_a_new_campaign_version_continues_by_step_id() -> None:
    first = engine(WELCOME).on_event(None, view(), event("talent_pool_joined", T0))
    v2 = engine(WELCOME.replace("version: 1", "version: 2"))
    decision = v2.on_timer(first.state, view(), T0 + 8 * DAY_US)
    (record,) = decision.actions
    assert (record["step_id"], record["campaign_version"]) == ("digest", 2)
    without_digest = WELCOME.replace("id: digest", "id: digest-v3").replace(
        "version: 1", "version: 3"
    )
    ended = engine(without_digest).on_timer(first.state, view(), T0 + 8 * DAY_US)
    assert ended.outcomes == () and ended.exited == (("welcome", "step_removed"),)
    removed = engine(TIERED).on_timer(first.state, view(), T0 + 8 * DAY_US)
    assert removed.exited == (("welcome", "campaign_removed"),)


CONDITIONAL = """
id: targeted
version: 1
trigger: {event: page_viewed}
conditions:
  tiers: [engaged, hot]
  interests_any: [Kafka]
  locales: [en]
  not_within: {application_submitted: 90d}
  within: {job_alert_subscribed: 30d}
steps:
  - id: note
    action: {channel: webhook, endpoint: crm-sync, params: {list: targeted}}
"""


def test_conditions_are_checked_at_entry() -> None:
    decide = engine(CONDITIONAL)
    page = event("page_viewed", T0, url="https://x.test")
    subscribed = decide.on_event(None, view(), event("job_alert_subscribed", T0 - DAY_US)).state
    assert decide.on_event(subscribed, view(tier="engaged"), page).entered == ("targeted",)
    assert decide.on_event(None, view(tier="engaged"), page).entered == (), "within"
    assert decide.on_event(subscribed, view(tier="warm"), page).entered == (), "tiers"
    assert decide.on_event(subscribed, view(tier="engaged", locale="de-DE"), page).entered == ()
    assert decide.on_event(subscribed, view(tier="engaged", interests=["ux"]), page).entered == ()
    applied = decide.on_event(
        subscribed, view(), event("application_submitted", T0 - 89 * DAY_US, job_id="1")
    ).state
    assert decide.on_event(applied, view(tier="engaged"), page).entered == (), "not_within"
    (record,) = decide.on_event(subscribed, view(tier="engaged"), page).actions
    assert (record["channel"], record["endpoint"], record["params"]) == (
        "webhook",
        "crm-sync",
        {"list": "targeted"},
    )
    NurtureAction.model_validate(record)


def test_matching_content_condition() -> None:
    text = """
id: invite
version: 1
trigger: {event: page_viewed}
conditions:
  matching_content: {kinds: [career_event]}
steps:
  - id: invite
    action: {channel: career_event_invite, template: invite}
"""
    decide = engine(text)
    page = event("page_viewed", T0, url="https://x.test")
    assert decide.on_event(None, view(), page).entered == ("invite",)
    nobody = view(interests=["knitting"], job_families=["nothing"])
    assert decide.on_event(None, nobody, page).entered == ()


def test_erasure_cancels_everything() -> None:
    drive = Driver(engine(WELCOME), view(time_zone="America/New_York"))
    drive.event("talent_pool_joined", T0)  # 05:00 in New York: held
    assert drive.steps("held") == [("welcome", "hello", None)]
    decision = drive.engine.on_erasure(drive.state, "cand-1", T0 + MINUTE_US)
    assert decision.state == {}
    assert [(o.status, o.reason) for o in decision.outcomes] == [("suppressed", "erased")]
    assert decision.exited == (("welcome", "erased"),)
    assert decision.timers_cleared == (drive.state["wake"],)  # type: ignore[index]
