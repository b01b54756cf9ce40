"""Order-independence of the engagement score, checked against the closed form (hypothesis).

Whatever order a set of events arrives in (permuted, late, out of order, with duplicates
interleaved, with the row serialised between events), the score and per-type contributions must
equal :func:`reference_contributions` (the definition, computed from all events at once) within
1e-9 relative.
"""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.scoring import (
    EngagementState,
    ScoringInput,
    ScoringModel,
    Update,
    apply_event,
    load_model,
    new_state,
    score_at,
)
from streams.scoring.reference import reference_contributions
from streams.scoring.rules import DAY_US

BASE_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
TYPES = [
    "page_viewed",
    "email_opened",
    "email_clicked",
    "application_submitted",
    "unsubscribed",  # weight 0: never scores
]


def _model(version: str, half_lives: dict[str, float]) -> ScoringModel:
    """The default ladder with small caps and a 5-day horizon, so both matter in 12 days."""
    return load_model().model_copy(
        update={
            "version": version,
            "half_life_days": 2.0,
            "half_life_days_by_type": half_lives,
            "daily_caps": {"page_viewed": 3, "email_opened": 2, "application_submitted": 1},
            "horizon_days": 5,
        }
    )


MODELS = [
    _model("mixed", {"page_viewed": 1 / 24, "email_opened": 0.5, "application_submitted": 90.0}),
    _model("tiny", {"page_viewed": 1e-7, "email_opened": 1e-5, "application_submitted": 1e-3}),
    _model("huge", {"page_viewed": 1e6, "email_opened": 1e9, "application_submitted": 1e12}),
]


@st.composite
def event_sets(draw: st.DrawFn) -> list[ScoringInput]:
    """1-40 distinct events over 12 days; times often tie so caps and same-instant paths run."""
    count = draw(st.integers(1, 40))
    instants = st.one_of(
        st.integers(0, 12 * DAY_US - 1),
        st.sampled_from([0, 1, DAY_US - 1, DAY_US, 3 * DAY_US + 7, 11 * DAY_US]),
    )
    events = []
    for index in range(count):
        kind = draw(st.sampled_from(TYPES))
        payload = None
        if kind == "page_viewed":
            payload = {"page_type": draw(st.sampled_from(["job", "blog_post", "other", None]))}
        events.append(ScoringInput(f"e{index}", kind, BASE_US + draw(instants), payload, 0, index))
    return events


def _replay(
    model: ScoringModel, arrivals: list[ScoringInput], *, roundtrip: bool = False
) -> tuple[EngagementState, list[Update]]:
    state = new_state()
    updates = []
    for event in arrivals:
        updates.append(apply_event(model, state, event))
        if roundtrip:
            state = EngagementState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    return state, updates


def _assert_close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert actual.keys() == expected.keys()
    for event_type, value in expected.items():
        assert math.isclose(actual[event_type], value, rel_tol=1e-9, abs_tol=1e-300), event_type


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODELS),
    events=event_sets(),
    data=st.data(),
)
def test_any_arrival_order_gives_the_closed_form(
    model: ScoringModel, events: list[ScoringInput], data: st.DataObject
) -> None:
    copies = data.draw(st.lists(st.sampled_from(events), max_size=10), label="duplicates")
    first = data.draw(st.permutations(events + copies), label="first order")
    second = data.draw(st.permutations(events + copies), label="second order")
    expected = reference_contributions(model, events)
    newest = max(event.occurred_at_us for event in events)

    results = []
    for arrivals, roundtrip in ((first, False), (second, True)):
        state, updates = _replay(model, arrivals, roundtrip=roundtrip)
        score, contributions = score_at(model, state, newest)
        _assert_close(contributions, expected)
        assert math.isclose(score, sum(expected.values()), rel_tol=1e-9, abs_tol=1e-300)
        assert state.last_activity_us == newest
        first_days = [flat[0] for flat in state.buckets.values()]
        assert state.oldest_day == (min(first_days) if first_days else None)
        assert updates[-1].as_of_us == newest
        assert math.isclose(updates[-1].score, score, rel_tol=1e-9, abs_tol=1e-300)
        assert sum(update.duplicate for update in updates) <= len(copies)
        assert not any(update.duplicate and update.too_late for update in updates)
        results.append(contributions)
    _assert_close(results[0], results[1])

    later = newest + data.draw(st.integers(0, 30 * DAY_US), label="later")
    _, at_later = score_at(model, state, later)
    _assert_close(at_later, reference_contributions(model, events, later))


@settings(max_examples=100, deadline=None)
@given(events=event_sets(), data=st.data())
def test_duplicates_count_once_and_say_so(events: list[ScoringInput], data: st.DataObject) -> None:
    model = MODELS[0]
    arrivals = data.draw(st.permutations(events))
    state, _ = _replay(model, arrivals)
    expected = score_at(model, state, state.last_activity_us or 0)
    for event in data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=5)):
        update = apply_event(model, state, event)
        assert update.duplicate or update.too_late
        assert not update.tier_changed
    assert score_at(model, state, state.last_activity_us or 0) == expected


def test_a_late_event_is_scored_as_of_the_newest_event() -> None:
    model = MODELS[0]
    state = new_state()
    apply_event(model, state, ScoringInput("a", "email_clicked", BASE_US + 3 * DAY_US, None))
    late = apply_event(model, state, ScoringInput("b", "email_clicked", BASE_US + DAY_US, None))
    assert not late.too_late
    assert late.as_of_us == BASE_US + 3 * DAY_US
    assert late.score == pytest.approx(3.0 + 3.0 * 2 ** (-2 / 2.0))
