"""Edges refuse events dated far in the future: they would move the scoring horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from producers.records import MAX_FUTURE_SKEW, RecordEncoder
from schemas.errors import ValidationError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _event(occurred_at: datetime) -> dict[str, Any]:
    return {
        "event_id": "evt-future-1",
        "type": "page_viewed",
        "candidate_id": "cand-1",
        "occurred_at": occurred_at.isoformat(),
        "source": "career-site",
        "payload": {"url": "https://careers.example.test/jobs/1", "page_type": "job"},
    }


@pytest.mark.parametrize("validation", ["codec", "model"])
def test_event_dated_beyond_the_skew_is_refused(validation: Any) -> None:
    encoder = RecordEncoder(dict_validation=validation, now=lambda: NOW)
    with pytest.raises(ValidationError) as error:
        encoder.event(_event(NOW + MAX_FUTURE_SKEW + timedelta(minutes=1)))
    assert error.value.field == "occurred_at"
    assert "after received_at" in error.value.reason


@pytest.mark.parametrize("validation", ["codec", "model"])
def test_small_clock_skew_and_past_events_pass(validation: Any) -> None:
    encoder = RecordEncoder(dict_validation=validation, now=lambda: NOW)
    encoder.event(_event(NOW + MAX_FUTURE_SKEW - timedelta(minutes=1)))
    encoder.event(_event(NOW - timedelta(days=300)))  # back-dated backfills are fine
