"""The engagement state row: JSON-safe, round-trips exactly, remembers a bounded set of ids."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.bench.scoring import busiest_state, make_events
from streams.scoring import (
    EngagementState,
    ScoringInput,
    StateModelMismatchError,
    apply_event,
    load_model,
    new_state,
)
from streams.scoring.rules import DAY_US
from streams.scoring.state import ID_TOKEN_WIDTH, StateFormatError, id_token

T0 = 1_767_225_600_000_000
MODEL = load_model()


def _json_types_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_types_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_types_only(item) for item in value)
    return value is None or type(value) in (str, int, float)


def _busy_states() -> dict[str, EngagementState]:
    states: dict[str, EngagementState] = {}
    for candidate, event in make_events(3_000):
        apply_event(MODEL, states.setdefault(candidate, new_state()), event)
    return states


def test_rows_hold_json_types_only_and_round_trip_exactly() -> None:
    for state in [new_state(), busiest_state(MODEL), *_busy_states().values()]:
        row = state.to_dict()
        assert _json_types_only(row)
        assert EngagementState.from_dict(orjson.loads(orjson.dumps(row))) == state


def test_a_round_tripped_state_scores_the_same_as_the_original() -> None:
    events = [event for _, event in make_events(2_000)]
    kept, reloaded = new_state(), new_state()
    for event in events:
        expected = apply_event(MODEL, kept, event)
        reloaded = EngagementState.from_dict(orjson.loads(orjson.dumps(reloaded.to_dict())))
        assert apply_event(MODEL, reloaded, event) == expected
    assert reloaded == kept


def test_recent_ids_are_bounded_and_the_oldest_are_forgotten() -> None:
    model = MODEL.model_copy(update={"version": "ids-8", "recent_ids": 8})
    state = new_state()
    for index in range(20):
        apply_event(model, state, ScoringInput(f"e{index}", "email_opened", T0 + index, None))
    assert len(state.recent_ids) == 8 * ID_TOKEN_WIDTH
    assert state.has_seen(id_token("e19")) and state.has_seen(id_token("e12"))
    assert not state.has_seen(id_token("e11"))
    assert apply_event(model, state, ScoringInput("e12", "email_opened", T0 + 12, None)).duplicate
    # Beyond the window a repeat counts again: the documented limit of duplicate detection.
    assert not apply_event(model, state, ScoringInput("e0", "email_opened", T0, None)).duplicate


def test_no_duplicate_check_when_recent_ids_is_zero() -> None:
    model = MODEL.model_copy(update={"version": "ids-0", "recent_ids": 0})
    state = new_state()
    for _ in range(2):
        assert not apply_event(model, state, ScoringInput("a", "email_opened", T0, None)).duplicate
    assert state.recent_ids == ""


def test_a_fingerprint_only_matches_at_token_boundaries() -> None:
    width = ID_TOKEN_WIDTH
    state = new_state()
    state.recent_ids = "ab" + "c" * (width - 2) + "cc" + "d" * (width - 2)
    assert not state.has_seen("c" * width)  # found only across two tokens
    assert state.has_seen("cc" + "d" * (width - 2))
    state.recent_ids = "a" + "b" * (width - 1) + "b" * width
    assert state.has_seen("b" * width)  # found unaligned first, then at a boundary


def test_id_tokens_have_a_fixed_width() -> None:
    for event_id in ("", "a", "x" * 500, "ünïcødé", "\ud800"):
        token = id_token(event_id)
        assert len(token) == ID_TOKEN_WIDTH and token.isascii()
    assert id_token("a") != id_token("b")


def test_the_last_event_and_its_source_are_remembered() -> None:
    state = new_state()
    apply_event(MODEL, state, ScoringInput("a", "email_opened", T0 + DAY_US, None, 3, 41))
    apply_event(MODEL, state, ScoringInput("b", "page_viewed", T0, None, 4, 42))
    assert (state.last_event_id, state.last_event_type) == ("b", "page_viewed")
    assert (state.source_partition, state.source_offset) == (4, 42)
    assert state.last_activity_us == T0 + DAY_US  # the newest occurred_at, not the last one


def test_a_state_of_another_model_version_is_refused() -> None:
    state = new_state()
    apply_event(MODEL, state, ScoringInput("a", "email_opened", T0, None))
    other = MODEL.model_copy(update={"version": "other"})
    with pytest.raises(StateModelMismatchError, match=r"replay candidate\.activity"):
        apply_event(other, state, ScoringInput("b", "email_opened", T0, None))


def test_an_unknown_row_layout_is_refused() -> None:
    row = new_state().to_dict()
    row["v"] = 99
    with pytest.raises(StateFormatError, match="layout v99"):
        EngagementState.from_dict(row)


def test_a_malformed_event_raises_before_changing_the_state() -> None:
    state = new_state()
    apply_event(MODEL, state, ScoringInput("a", "email_opened", T0, None))
    before = EngagementState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    not_a_mapping: Any = ["page_type", "job"]
    with pytest.raises(AttributeError):
        apply_event(MODEL, state, ScoringInput("b", "page_viewed", T0 + DAY_US, not_a_mapping))
    with pytest.raises(TypeError):
        apply_event(MODEL, state, ScoringInput("c", "page_viewed", T0, {"page_type": ["job"]}))
    assert state == before
