"""`nurture topics export|import` (and the `nurture topic` alias) against the real broker,
and the JSON form of records of every kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for, decode, encode
from schemas.kafka_seam import clients, topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.bench.loadgen import START, LoadSpec, activity_events
from streams.replay.json_form import from_json, to_json
from streams.replay.topic_io import line_to_record, record_to_json
from tests.kafka_helpers import read_all, unique
from tests.replay_support import nurture, profile

pytestmark = pytest.mark.kafka

BASE_MS = 1_793_525_400_000  # 2026-11-01T09:30:00Z


def _schema(subject: str) -> Any:
    from schemas.codec import default_codec  # noqa: PLC0415

    return default_codec().catalog.subject(subject).current.schema


@pytest.mark.parametrize("kind", sorted({e["type"] for e in activity_events(LoadSpec(2_000))}))
def test_every_activity_type_survives_json(kind: str) -> None:
    event = next(e for e in activity_events(LoadSpec(2_000)) if e["type"] == kind)
    data = activity_codec().encode(event)
    as_json = json.loads(json.dumps(to_json(_schema("activity_event"), decode(data).record)))
    assert isinstance(as_json["occurred_at"], str)
    assert encode("activity_event", from_json(_schema("activity_event"), as_json)) == data


def test_profiles_and_actions_survive_json() -> None:
    data = encode("candidate_profile", profile("cand-json", email_consent=True))
    record = decode(data).record
    back = from_json(
        _schema(decode(data).subject),
        json.loads(json.dumps(to_json(_schema(decode(data).subject), record))),
    )
    assert encode(decode(data).subject, back) == codec_for(decode(data).subject).encode(record)


@pytest.fixture
def other(kafka_base: KafkaSettings) -> Iterator[KafkaSettings]:
    settings = kafka_base.model_copy(update={"topic_prefix": unique("test") + "."})
    assert topic_admin.create_all(settings).ok
    yield settings
    topic_admin.delete_prefixed(settings)


def _publish_timed(kafka: KafkaSettings) -> list[bytes]:
    encode_activity = activity_codec().encode
    values = []
    producer = clients.producer(kafka, acks="all")
    try:
        for n in range(4):
            event = {
                **next(iter(activity_events(LoadSpec(1, run=f"io{n}")))),
                "occurred_at": START + timedelta(minutes=n),
            }
            value = encode_activity(event)
            values.append(value)
            producer.send(
                kafka.topic(ACTIVITY),
                key=event["candidate_id"].encode(),
                value=value,
                headers=[("nurture.source", b"ats"), ("binary", b"\xff\x00")],
                timestamp_ms=BASE_MS + n * 1000,
            )
        producer.send(kafka.topic(PROFILE), key=b"gone", value=None, timestamp_ms=BASE_MS)
        producer.flush()
    finally:
        producer.close()
    return values


def test_export_a_time_range_and_import_it_elsewhere(
    kafka: KafkaSettings, other: KafkaSettings
) -> None:
    values = _publish_timed(kafka)
    exported = nurture(
        kafka,
        "topics",
        "export",
        "candidate.activity",
        "--from",
        "2026-11-01T09:30:01Z",
        "--to",
        str(BASE_MS + 3000),
    )
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines() if line.startswith("{")]
    assert [line["timestamp_ms"] for line in lines] == [BASE_MS + 1000, BASE_MS + 2000]
    first = lines[0]
    assert first["subject"] == "activity_event"
    assert first["value"]["occurred_at"].startswith("2026-01-05T09:01:00")
    assert first["headers"][1] == ["binary", {"$base64": "/wA="}]

    imported = nurture(
        other,
        "topic",
        "import",
        "candidate.activity",
        input="\n".join(json.dumps(line) for line in lines),
    )
    assert imported.exit_code == 0, imported.output
    copies = sorted(read_all(other, other.topic(ACTIVITY)), key=lambda m: m.timestamp)
    assert [m.value for m in copies] == values[1:3]
    originals = sorted(read_all(kafka, kafka.topic(ACTIVITY)), key=lambda m: m.timestamp)[1:3]
    for copy, original in zip(copies, originals, strict=True):
        assert (copy.key, list(copy.headers), copy.timestamp) == (
            original.key,
            list(original.headers),
            original.timestamp,
        )

    tombstone = nurture(kafka, "topic", "export", "candidate.profile")
    (line,) = [json.loads(x) for x in tombstone.stdout.splitlines() if x.startswith("{")]
    assert line["value"] is None and line["key"] == "gone"
    assert line_to_record(line)[:2] == (b"gone", None)


def test_import_refuses_a_bad_file_and_sends_nothing(kafka: KafkaSettings) -> None:
    good = record_to_json_line()
    result = nurture(kafka, "topics", "import", "candidate.activity", input=good + "\n{not json\n")
    assert result.exit_code == 1
    assert "line 2" in result.output
    assert read_all(kafka, kafka.topic(ACTIVITY)) == []


def record_to_json_line() -> str:
    event = next(iter(activity_events(LoadSpec(1, run="bad"))))

    record = SimpleNamespace(
        topic="t",
        partition=0,
        offset=0,
        timestamp=BASE_MS,
        key=event["candidate_id"].encode(),
        value=activity_codec().encode(event),
        headers=[],
    )
    return json.dumps(record_to_json(record))
