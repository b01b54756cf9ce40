"""Tiers: promotion at the threshold, demotion only below it minus the hysteresis margin."""

from __future__ import annotations

from itertools import pairwise

from streams.scoring import (
    ScoringInput,
    ScoringModel,
    Update,
    apply_event,
    load_model,
    new_state,
    tier_for,
)
from streams.scoring.rules import DAY_US

T0 = 1_767_225_600_000_000
MODEL = load_model()  # warm from 10, left below 8 (hysteresis 0.2)


def _tiers_along(scores: list[float], model: ScoringModel = MODEL) -> list[str]:
    tier = None
    seen = []
    for score in scores:
        tier = tier_for(model, tier, score)
        seen.append(tier)
    return seen


def test_a_score_hovering_at_a_threshold_changes_tier_once() -> None:
    scores = [9.0, 10.2, 9.5, 10.1, 8.1, 10.3, 9.9, 8.0]
    assert _tiers_along(scores) == ["cold"] + ["warm"] * 7
    without = MODEL.model_copy(update={"version": "no-hysteresis", "hysteresis": 0.0})
    assert _tiers_along(scores, without).count("warm") == 3  # it would flap


def test_demotion_needs_the_score_below_the_margin() -> None:
    assert _tiers_along([10.0, 7.99]) == ["warm", "cold"]
    assert _tiers_along([65.0, 49.0, 47.9, 24.5, 23.9]) == ["hot"] * 2 + ["engaged"] * 2 + ["warm"]
    assert _tiers_along([65.0, 0.0]) == ["hot", "cold"]


def test_promotion_jumps_straight_to_the_highest_tier_reached() -> None:
    assert _tiers_along([0.0, 61.0]) == ["cold", "hot"]


def _restless_job_viewer(model: ScoringModel) -> list[Update]:
    """Job page views 6 days, then 12 hours apart, for a year: the score at each event saws
    between about 9.1 and 10.3, crossing the warm threshold (10) at almost every event."""
    state = new_state()
    updates = []
    at = T0
    for index in range(60):
        event = ScoringInput(f"v{index}", "page_viewed", at, {"page_type": "job"})
        updates.append(apply_event(model, state, event))
        at += DAY_US // 2 if index % 2 else 6 * DAY_US
    return updates


def test_events_around_a_threshold_report_one_tier_change() -> None:
    updates = _restless_job_viewer(MODEL)
    assert [u.tier for u in updates if u.tier_changed] == ["warm"]
    crossings = sum((a.score < 10) != (b.score < 10) for a, b in pairwise(updates))
    assert crossings > 20
    assert min(u.score for u in updates[30:]) > 8
    without = MODEL.model_copy(update={"version": "no-hysteresis", "hysteresis": 0.0})
    assert sum(u.tier_changed for u in _restless_job_viewer(without)) > 20


def test_the_first_event_reports_a_change_only_above_the_lowest_tier() -> None:
    state = new_state()
    first = apply_event(MODEL, state, ScoringInput("a", "page_viewed", T0, None))
    assert (first.tier, first.previous_tier, first.tier_changed) == ("cold", None, False)

    state = new_state()
    first = apply_event(MODEL, state, ScoringInput("a", "application_submitted", T0, None))
    assert (first.tier, first.previous_tier, first.tier_changed) == ("engaged", None, True)
    second = apply_event(MODEL, state, ScoringInput("b", "career_event_attended", T0, None))
    assert (second.tier, second.previous_tier, second.tier_changed) == ("hot", "engaged", True)
    assert (state.tier, state.previous_tier) == ("hot", "engaged")


def test_duplicates_and_late_events_do_not_change_the_tier() -> None:
    state = new_state()
    apply_event(MODEL, state, ScoringInput("a", "application_submitted", T0, None))
    again = apply_event(MODEL, state, ScoringInput("a", "application_submitted", T0, None))
    assert again.duplicate and not again.tier_changed
    assert (again.tier, again.previous_tier) == ("engaged", "engaged")
