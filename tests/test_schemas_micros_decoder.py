"""The worker's activity decoder: the codec's records with the envelope times in epoch µs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producers.simulate import generate
from schemas.codec import activity_codec
from schemas.errors import SchemaError
from schemas.timestamps import to_micros

CODEC = activity_codec()
DECODE = CODEC.micros_decoder()
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_records_equal_the_codecs_with_envelope_times_in_micros() -> None:
    records = [r.record for r in generate(seed=3, candidates=100, events=3000)]
    events = [dict(r, received_at=NOW) for r in records if "event_id" in r and "type" in r]
    assert any(isinstance(v, datetime) for e in events for v in e["payload"].values())
    for event in events:
        data = CODEC.encode(event)
        expected = CODEC.decode(data)
        got = DECODE(data)
        assert got["occurred_at"] == to_micros(expected["occurred_at"])
        assert got["received_at"] == to_micros(NOW)
        assert got == {
            **expected,
            "occurred_at": got["occurred_at"],
            "received_at": got["received_at"],
        }
        assert got["payload"] == expected["payload"]  # payload times stay datetimes


def test_it_raises_the_codecs_errors() -> None:
    event = next(r.record for r in generate(seed=3, candidates=1, events=5) if "type" in r.record)
    data = CODEC.encode(event)
    with pytest.raises(SchemaError):
        DECODE(data[:-3])
    assert CODEC.decode(data)["occurred_at"] == event["occurred_at"]  # the codec is unchanged
