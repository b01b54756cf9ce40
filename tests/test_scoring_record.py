"""The engagement record: fits the engagement_record schema and is deterministic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.catalog import default_catalog
from schemas.codec import decode_as, encode
from streams.bench.scoring import make_events
from streams.scoring import (
    ScoringInput,
    apply_event,
    engagement_record,
    load_model,
    new_state,
    score_at,
)
from streams.scoring.rules import DAY_US

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
MODEL = load_model()


def _two_events() -> dict[str, object]:
    state = new_state()
    apply_event(MODEL, state, ScoringInput("a", "application_submitted", T0, None, 2, 7))
    apply_event(MODEL, state, ScoringInput("b", "email_clicked", T0 - DAY_US, None, 2, 9))
    return engagement_record(MODEL, "cand-1", state)


def test_the_record_has_exactly_the_schema_fields() -> None:
    schema = default_catalog().subject("engagement_record").current.schema
    assert set(_two_events()) == {field["name"] for field in schema["fields"]}


def test_the_record_encodes_and_decodes_unchanged() -> None:
    record = _two_events()
    assert decode_as("engagement_record", encode("engagement_record", record)) == record


def test_the_record_describes_the_newest_event_time_and_the_last_event() -> None:
    record = _two_events()
    newest = datetime(2026, 1, 1, tzinfo=UTC)
    assert record["as_of"] == record["last_activity_at"] == newest
    assert record["score"] == pytest.approx(40 + 3 * 2 ** (-1 / 30))
    assert record["contributions"] == pytest.approx(
        {"application_submitted": 40.0, "email_clicked": 3 * 2 ** (-1 / 30)}
    )
    assert (record["tier"], record["previous_tier"]) == ("engaged", "engaged")
    assert record["model_version"] == MODEL.version
    assert (record["last_event_id"], record["last_event_type"]) == ("b", "email_clicked")
    assert (record["source_partition"], record["source_offset"]) == (2, 9)


def test_the_first_record_has_no_previous_tier() -> None:
    state = new_state()
    apply_event(MODEL, state, ScoringInput("a", "page_viewed", T0, {"page_type": "job"}))
    record = engagement_record(MODEL, "cand-2", state)
    assert record["previous_tier"] is None
    encode("engagement_record", record)


def test_a_state_without_events_has_no_record() -> None:
    with pytest.raises(ValueError, match="no event applied yet"):
        engagement_record(MODEL, "cand-3", new_state())


def test_replaying_the_same_events_gives_the_same_bytes() -> None:
    def run() -> list[bytes]:
        state = new_state()
        out = []
        for _, event in make_events(500, seed=11):
            apply_event(MODEL, state, event)
            out.append(encode("engagement_record", engagement_record(MODEL, "c", state)))
        return out

    assert run() == run()


def test_the_record_score_is_score_at_the_newest_event() -> None:
    state = new_state()
    for _, event in make_events(300, seed=3):
        apply_event(MODEL, state, event)
    record = engagement_record(MODEL, "c", state)
    assert state.last_activity_us is not None
    assert (record["score"], record["contributions"]) == score_at(
        MODEL, state, state.last_activity_us
    )
