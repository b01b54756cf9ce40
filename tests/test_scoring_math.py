"""Decay, weights, daily caps and the horizon, against the closed form with explicit numbers."""

from __future__ import annotations

import math

import pytest

from streams.scoring import ScoringInput, apply_event, load_model, new_state, score_at
from streams.scoring.rules import DAY_US

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR_US = 3_600_000_000
MODEL = load_model()


def _event(event_id: str, kind: str, at_us: int, **payload: str) -> ScoringInput:
    return ScoringInput(event_id, kind, at_us, payload or None)


def test_one_event_decays_by_its_half_life() -> None:
    state = new_state()
    update = apply_event(MODEL, state, _event("a", "application_submitted", T0))
    assert update.score == 40.0
    assert score_at(MODEL, state, T0 + 90 * DAY_US)[0] == pytest.approx(20.0, rel=1e-12)
    assert score_at(MODEL, state, T0 + 45 * DAY_US)[0] == pytest.approx(40 * 2**-0.5, rel=1e-12)


def test_contributions_follow_the_closed_form_per_type() -> None:
    state = new_state()
    apply_event(MODEL, state, _event("a", "application_submitted", T0))
    apply_event(MODEL, state, _event("b", "email_clicked", T0 + 2 * DAY_US))
    apply_event(MODEL, state, _event("c", "page_viewed", T0 + 5 * DAY_US, page_type="job"))
    at = T0 + 12 * DAY_US + 7 * HOUR_US
    days = (at - T0) / DAY_US
    score, contributions = score_at(MODEL, state, at)
    expected = {
        "application_submitted": 40 * 2 ** (-days / 90),
        "email_clicked": 3 * 2 ** (-(days - 2) / 30),
        "page_viewed": 1.0 * 2 ** (-(days - 5) / 21),
    }
    assert contributions == pytest.approx(expected, rel=1e-12)
    assert score == pytest.approx(sum(expected.values()), rel=1e-12)


def test_the_payload_refines_the_weight() -> None:
    weights = {}
    for page_type in ("job", "blog_post", "unknown_kind"):
        state = new_state()
        weights[page_type] = apply_event(
            MODEL, state, _event("a", "page_viewed", T0, page_type=page_type)
        ).score
    state = new_state()
    weights["none"] = apply_event(MODEL, state, _event("a", "page_viewed", T0)).score
    assert weights == {"job": 1.0, "blog_post": 0.25, "unknown_kind": 0.5, "none": 0.5}


def test_500_page_views_in_a_day_count_like_the_cap() -> None:
    state = new_state()
    for index in range(500):
        apply_event(MODEL, state, _event(f"v{index}", "page_viewed", T0, page_type="job"))
    assert MODEL.daily_caps["page_viewed"] == 10
    assert score_at(MODEL, state, T0)[0] == pytest.approx(10 * 1.0, rel=1e-12)
    assert state.tier == "warm"  # not hot: refreshing does not make anyone hot


def test_spread_out_views_past_the_cap_share_the_cap() -> None:
    state = new_state()
    times = [T0 + index * 10 * 60_000_000 for index in range(40)]  # every 10 minutes
    for index, at in enumerate(times):
        apply_event(MODEL, state, _event(f"v{index}", "page_viewed", at, page_type="job"))
    newest = times[-1]
    decayed = sum(2 ** (-(newest - at) / (21 * DAY_US)) for at in times)
    assert score_at(MODEL, state, newest)[0] == pytest.approx(10 / 40 * decayed, rel=1e-12)


def test_the_cap_is_per_utc_day() -> None:
    state = new_state()
    for index in range(20):
        apply_event(MODEL, state, _event(f"a{index}", "email_opened", T0 + DAY_US - 1))
        apply_event(MODEL, state, _event(f"b{index}", "email_opened", T0 + DAY_US))
    factor = 2 ** (-1 / (14 * DAY_US))
    assert score_at(MODEL, state, T0 + DAY_US)[0] == pytest.approx(2 * 0.5 * (1 + factor))


def test_zero_weight_events_score_nothing_and_keep_no_bucket() -> None:
    state = new_state()
    update = apply_event(MODEL, state, _event("u", "unsubscribed", T0))
    assert update.score == 0.0
    assert state.buckets == {}
    assert state.last_event_type == "unsubscribed"


def test_events_beyond_the_horizon_are_too_late_and_old_days_drop_out() -> None:
    model = MODEL.model_copy(update={"version": "short-horizon", "horizon_days": 10})
    state = new_state()
    apply_event(model, state, _event("old", "application_submitted", T0))
    apply_event(model, state, _event("new", "email_clicked", T0 + 10 * DAY_US))
    assert set(score_at(model, state, T0 + 10 * DAY_US)[1]) == {
        "application_submitted",
        "email_clicked",
    }
    apply_event(model, state, _event("newer", "email_clicked", T0 + 11 * DAY_US))
    _, contributions = score_at(model, state, T0 + 11 * DAY_US)
    assert set(contributions) == {"email_clicked"}
    assert "application_submitted" not in state.buckets
    late = apply_event(model, state, _event("late", "application_submitted", T0 + 5))
    assert late.too_late and not late.duplicate
    assert score_at(model, state, T0 + 11 * DAY_US)[1] == contributions


def test_score_at_an_earlier_time_is_the_score_at_the_newest_event() -> None:
    state = new_state()
    apply_event(MODEL, state, _event("a", "email_clicked", T0 + DAY_US))
    assert score_at(MODEL, state, T0) == score_at(MODEL, state, T0 + DAY_US)
    assert score_at(MODEL, new_state(), T0) == (0.0, {})


def test_extreme_half_lives_stay_finite() -> None:
    for half_life in (1e-9, 1e9):
        model = MODEL.model_copy(update={"version": f"h{half_life}", "half_life_days": half_life})
        state = new_state()
        for index in range(50):
            at = T0 + index * 37 * HOUR_US
            apply_event(model, state, _event(f"e{index}", "email_replied", at))
        score, _ = score_at(model, state, T0 + 10_000 * DAY_US)
        assert math.isfinite(score) and score >= 0.0
        assert score < 15 * 50 + 1


def test_dropping_old_days_keeps_the_rest_of_the_type_exact() -> None:
    model = MODEL.model_copy(update={"version": "short-horizon", "horizon_days": 10})
    events = [
        _event(f"e{day}", "email_clicked", T0 + day * DAY_US + 5 * HOUR_US) for day in (0, 3, 8)
    ]
    state = new_state()
    for event in events:
        apply_event(model, state, event)
    newest = T0 + 12 * DAY_US
    apply_event(model, state, _event("e12", "email_opened", newest))
    _, contributions = score_at(model, state, newest)
    expected = 3 * sum(2 ** (-(newest - e.occurred_at_us) / (30 * DAY_US)) for e in events[1:])
    assert contributions["email_clicked"] == pytest.approx(expected, rel=1e-12)
    assert state.buckets["email_clicked"][0::4] == [T0 // DAY_US + 3, T0 // DAY_US + 8]
