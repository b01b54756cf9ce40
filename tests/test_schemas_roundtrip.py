"""Properties: any valid record round-trips; any bytes decode or raise a SchemaError.

Records are generated from the current Avro schema itself, so a new field, version or subject is
covered without touching this file. Model-level events add the semantic rules (URLs, names).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.catalog import SUBJECTS, default_catalog
from schemas.codec import activity_codec, codec_for, decode
from schemas.errors import SchemaError
from schemas.models import ActivityEvent, parse_event
from schemas.subject_codec import REQUIRED_TEXT

OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)
MOMENTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=OFFSETS
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
WORDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,15}", fullmatch=True)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
URLS = st.builds(
    "https://{}.example.com/{}".format,
    st.from_regex(r"[a-z]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9/-]{0,20}", fullmatch=True),
)

_PRIMITIVES = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "double": st.floats(allow_nan=False),
    "string": TEXT,
}


def from_schema(schema: Any, *, required: tuple[str, ...] = (), semantic: bool = False) -> Any:
    """A strategy for records of ``schema`` (every field present, so decode gives them back).

    ``required`` names top-level string fields that must be non-empty; ``semantic`` adds the
    models' rules (non-blank required strings, http(s) URLs, lowercase channel names, ints >= 0).
    """
    if isinstance(schema, list):
        if "null" in schema:
            (other,) = [b for b in schema if b != "null"]
            return st.none() | from_schema(other, semantic=semantic)
        raise NotImplementedError("unions of records are generated per event type")
    if isinstance(schema, str):
        if semantic and schema == "int":
            return st.integers(0, 2**31 - 1)
        return _PRIMITIVES[schema]
    if schema.get("logicalType") == "timestamp-micros":
        return MOMENTS
    kind = schema["type"]
    if kind == "array":
        return st.lists(from_schema(schema["items"], semantic=semantic), max_size=3)
    if kind == "map":
        return st.dictionaries(TEXT, from_schema(schema["values"], semantic=semantic), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: _field(f, required=required, semantic=semantic) for f in schema["fields"]}
        )
    return from_schema(kind, semantic=semantic)


def _field(field: dict[str, Any], *, required: tuple[str, ...], semantic: bool) -> Any:
    name, kind = field["name"], field["type"]
    if semantic and name == "url":
        return URLS if kind == "string" else st.none() | URLS
    if semantic and name == "channel":
        return NAMES
    if semantic and kind == "string":
        return WORDS
    if semantic and kind == {"type": "array", "items": "string"}:
        return st.lists(WORDS, max_size=3)
    if name in required:
        return TEXT.filter(bool)
    return from_schema(kind, semantic=semantic)


def activity_events(*, semantic: bool = False) -> Any:
    """Activity events of every type, the payload record matching ``type``."""
    schema = default_catalog().subject("activity_event").current.schema
    envelope = {**schema, "fields": [f for f in schema["fields"] if f["name"] != "payload"]}
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    base = from_schema(envelope, required=REQUIRED_TEXT["activity_event"], semantic=semantic)
    by_type = [
        st.tuples(st.just(branch["event_type"]), from_schema(branch, semantic=semantic))
        for branch in payload["type"]
    ]
    return st.builds(
        lambda env, typed: {**env, "type": typed[0], "payload": typed[1]}, base, st.one_of(by_type)
    )


def records(subject: str) -> Any:
    if subject == "activity_event":
        return activity_events()
    schema = default_catalog().subject(subject).current.schema
    return from_schema(schema, required=REQUIRED_TEXT[subject])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SUBJECTS).flatmap(lambda s: st.tuples(st.just(s), records(s))))
def test_any_valid_record_round_trips(subject_and_record: tuple[str, dict[str, Any]]) -> None:
    subject, record = subject_and_record
    found = decode(codec_for(subject).encode(record))
    assert (found.subject, found.record) == (subject, record)
    for moment in _datetimes(found.record):
        assert moment.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(activity_events(semantic=True))
def test_any_valid_event_round_trips_through_model_and_codec(record: dict[str, Any]) -> None:
    event = parse_event(record)
    codec = activity_codec()
    assert ActivityEvent.from_avro(codec.decode(codec.encode(event.to_avro()))) == event
    assert parse_event(event.model_dump(mode="json")) == event


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from(SUBJECTS))
def test_any_bytes_decode_or_raise_a_schema_error(body: bytes, subject: str) -> None:
    header = b"\xc3\x01" + default_catalog().subject(subject).current.fingerprint
    for data in (body, header + body):
        with contextlib.suppress(SchemaError):
            decode(data)


def _datetimes(value: Any) -> list[datetime]:
    if isinstance(value, datetime):
        return [value]
    if isinstance(value, dict):
        return [d for item in value.values() for d in _datetimes(item)]
    if isinstance(value, list):
        return [d for item in value for d in _datetimes(item)]
    return []
