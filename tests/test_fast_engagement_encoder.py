"""The worker's engagement records through the compiled writer: the codec's bytes, its errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from producers.simulate import generate
from schemas.codec import codec_for
from schemas.errors import ValidationError
from schemas.fast_writer.builders import FastWriter, fast_encoder
from schemas.fast_writer.templates import RecordChecks
from schemas.subject_codec import REQUIRED_TEXT
from schemas.timestamps import to_micros
from streams.scoring import ScoringInput, apply_event, load_model, new_state
from streams.scoring.update import engagement_record

CODEC = codec_for("engagement_record")
ENCODE = fast_encoder(CODEC)
WRITER = FastWriter(
    CODEC.reader.schema,
    CODEC.reader.fingerprint,
    checks=RecordChecks(required_text=frozenset(REQUIRED_TEXT["engagement_record"])),
)


def _records(n: int) -> list[dict[str, Any]]:
    """Engagement records after each of ``n`` simulated events (many candidates and tiers)."""
    model = load_model()
    states: dict[str, Any] = {}
    records = []
    events = (r.record for r in generate(seed=5, candidates=300, events=n))
    for offset, event in enumerate(e for e in events if "event_id" in e and "type" in e):
        state = states.setdefault(event["candidate_id"], new_state())
        apply_event(
            model,
            state,
            ScoringInput(
                event["event_id"],
                event["type"],
                to_micros(event["occurred_at"]),
                event["payload"],
                offset % 6,
                offset,
            ),
        )
        records.append(engagement_record(model, event["candidate_id"], state))
    return records


RECORDS = _records(2000)


def test_engagement_records_are_written_by_the_fast_path_as_the_codec_writes_them() -> None:
    assert len({len(r["contributions"]) for r in RECORDS}) > 3  # maps of several sizes
    assert any(r["previous_tier"] is not None for r in RECORDS)
    for record in RECORDS:
        fast = WRITER.encode(record)
        assert fast is not None
        assert fast == CODEC.encode(record) == ENCODE(record)
        assert CODEC.decode(fast)["contributions"] == record["contributions"]


@pytest.mark.parametrize(
    "change",
    [
        {"contributions": {}},
        {"contributions": {f"type_{i}": float(i) for i in range(70)}},  # a two-byte count
        {"score": 3},  # an int for a double: the codec writes it
        {"contributions": {"page_viewed": 1}},
        {"as_of": to_micros(datetime(2026, 1, 1, tzinfo=UTC))},
    ],
)
def test_edge_records_get_the_codecs_bytes(change: dict[str, Any]) -> None:
    record = {**RECORDS[-1], **change}
    assert ENCODE(record) == CODEC.encode(record)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tier": ""}, "tier"),
        ({"contributions": {"page_viewed": "high"}}, "contributions"),
        ({"contributions": [("page_viewed", 1.0)]}, "contributions"),
        ({"as_of": datetime(2026, 1, 1)}, "as_of"),
    ],
)
def test_bad_records_raise_the_codecs_error(change: dict[str, Any], field: str) -> None:
    record = {**RECORDS[-1], **change}
    assert WRITER.encode(record) is None
    with pytest.raises(ValidationError) as raised:
        ENCODE(record)
    assert raised.value.field.startswith(field)
