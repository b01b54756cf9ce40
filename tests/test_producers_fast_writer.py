"""The compiled activity writer (schemas/fast_writer/) against the full codec it stands in for.

Its promise: whatever it encodes is byte-for-byte what the codec writes, and it never accepts a
record the codec refuses (it answers None instead, and the SDK asks the codec, which names the
field). Checked on the simulator's events and on hypothesis mutations of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.records import RecordEncoder
from producers.simulate import generate
from schemas.codec import activity_codec
from schemas.errors import ValidationError
from schemas.fast_writer.builders import activity_writer
from schemas.timestamps import to_micros

CODEC = activity_codec()
WRITER = activity_writer(CODEC)
NOW = datetime(2025, 3, 1, 9, 31, tzinfo=UTC)


def _simulated(n: int) -> list[dict[str, Any]]:
    records = (r.record for r in generate(seed=11, candidates=200, events=n))
    events = [dict(r, received_at=NOW) for r in records if "event_id" in r and "type" in r]
    return list(islice(events, n))


EVENTS = _simulated(3000)


def _codec_bytes(record: dict[str, Any]) -> bytes | None:
    try:
        return CODEC.encode(record)
    except ValidationError:
        return None


def test_every_simulated_event_type_is_written_as_the_codec_writes_it() -> None:
    assert {e["type"] for e in EVENTS} >= {"page_viewed", "email_opened", "application_submitted"}
    for event in EVENTS:
        assert WRITER.encode(event) == CODEC.encode(event), event["type"]


EDGE_VALUES: list[Any] = [
    None, "", "x", "é-ü-✓", "y" * 64, "z" * 300, "\ud800", 0, -1, 2**31 - 1, 2**31, -(2**31),
    -(2**31) - 1, 2**63, True, 1.5, b"raw", [], ["a"], ["a"] * 70, [1], {}, {"k": "v"},
    NOW, NOW.replace(tzinfo=None), datetime(1960, 1, 1, tzinfo=UTC), 1_700_000_000_000_000,
    datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=1),
]  # fmt: skip


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A simulated event with some fields (top level or payload) replaced, removed or added."""
    event = dict(draw(st.sampled_from(EVENTS)))
    payload = event["payload"] = dict(event["payload"])
    for _ in range(draw(st.integers(1, 3))):
        target = event if draw(st.booleans()) else payload
        names = [*target, "correlation_id", "unknown", "attended_minutes", "job_families"]
        name = draw(st.sampled_from(names))
        if draw(st.integers(0, 4)) == 0:
            target.pop(name, None)
        else:
            target[name] = draw(st.sampled_from(EDGE_VALUES))
    if draw(st.booleans()):
        event["type"] = draw(st.sampled_from([*CODEC.event_types, "nope", ""]))
    return event


@settings(max_examples=600, deadline=None)
@given(event=mutated_events())
def test_the_writer_never_accepts_what_the_codec_refuses_nor_writes_other_bytes(
    event: dict[str, Any],
) -> None:
    fast = WRITER.encode(event)
    if fast is not None:
        assert fast == _codec_bytes(event)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": ""}, "event_id"),
        ({"occurred_at": NOW.replace(tzinfo=None)}, "occurred_at"),
        ({"candidate_id": 42}, "candidate_id"),
        ({"colour": "red"}, "colour"),
        ({"type": "page_flipped"}, "type"),
        ({"payload": {"career_event_id": "e-1", "attended_minutes": 2**31}}, "payload"),
        ({"payload": {"url": "https://x.example", "nope": 1}}, "payload.nope"),
        ({"payload": {}}, "payload.url"),
    ],
)
def test_refused_records_still_get_the_codecs_error_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    event = {
        "event_id": "e-1",
        "type": "page_viewed",
        "candidate_id": "cand-1",
        "occurred_at": NOW,
        "source": "career-site",
        "payload": {"url": "https://careers.example.com/jobs/7"},
        **change,
    }
    if change.get("payload", {}).get("career_event_id"):
        event["type"] = "career_event_attended"
    assert WRITER.encode(event) is None
    with pytest.raises(ValidationError) as raised:
        RecordEncoder(now=lambda: NOW).event(event)
    assert raised.value.field.startswith(field)


@pytest.mark.parametrize(
    "occurred_at",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        0, -1, 2**48 - 1, 2**48, -(2**48), -(2**48) - 1, 2**55 - 1, 2**55, -(2**55),
        -(2**55) - 1, 2**63 - 1, -(2**63),
    ],
)  # fmt: skip
def test_timestamps_of_every_size_are_written_as_the_codec_writes_them(
    occurred_at: datetime | int,
) -> None:
    event = dict(EVENTS[0], occurred_at=occurred_at)
    assert WRITER.encode(event) == CODEC.encode(event)


# --- the SDK's writer of the caller's own dict (received_at filled, skew checked) -----------

PRODUCER_WRITER = activity_writer(CODEC, max_future_skew_us=3_600_000_000)
NOW_US = to_micros(NOW)


def test_the_sdk_writer_fills_received_at_without_touching_the_callers_dict() -> None:
    for event in EVENTS[:500]:
        given_event = {k: v for k, v in event.items() if k != "received_at"}
        before = dict(given_event)
        assert PRODUCER_WRITER.encode(given_event, NOW_US) == CODEC.encode(event), event["type"]
        assert given_event == before
        # a received_at of the caller's wins over now
        assert PRODUCER_WRITER.encode(event, NOW_US + 1) == CODEC.encode(event)


def test_the_sdk_writer_declines_what_the_codec_path_must_judge() -> None:
    event = {k: v for k, v in EVENTS[0].items() if k != "received_at"}
    ahead = NOW + timedelta(hours=1, microseconds=1)
    assert PRODUCER_WRITER.encode(dict(event, occurred_at=ahead), NOW_US) is None
    at_limit = NOW + timedelta(hours=1)
    assert PRODUCER_WRITER.encode(dict(event, occurred_at=at_limit), NOW_US) is not None
    # integers and strings in timestamp fields are the codec path's to judge (it refuses ints)
    assert PRODUCER_WRITER.encode(dict(event, occurred_at=NOW_US), NOW_US) is None
    assert PRODUCER_WRITER.encode(dict(event, received_at=NOW_US), NOW_US) is None
    assert PRODUCER_WRITER.encode(dict(event, occurred_at=NOW.isoformat()), NOW_US) is None
    assert WRITER.encode(dict(event, occurred_at=NOW_US, received_at=NOW)) is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": NOW + timedelta(hours=2)}, "occurred_at"),
        ({"occurred_at": 1_700_000_000_000_000}, "occurred_at"),
        ({"received_at": 1_700_000_000_000_000}, "received_at"),
        ({"source": ""}, "source"),
    ],
)
def test_dicts_the_sdk_writer_declines_still_get_the_error_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    event = {k: v for k, v in EVENTS[0].items() if k != "received_at"}
    with pytest.raises(ValidationError) as raised:
        RecordEncoder(now=lambda: NOW).event({**event, **change})
    assert raised.value.field == field


def test_the_sdk_fast_path_writes_the_bytes_of_the_codec_path() -> None:
    fast, checked = RecordEncoder(now=lambda: NOW), RecordEncoder(now=lambda: NOW)
    checked._dict_fast = None  # the codec path: copy, parse times, check skew, encode
    for event in EVENTS[:500]:
        given_event = {k: v for k, v in event.items() if k != "received_at"}
        assert fast.event(given_event) == checked.event(given_event)
