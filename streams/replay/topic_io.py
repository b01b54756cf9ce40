"""`nurture topics export|import`: a topic's records as JSON lines and back.

One line per record::

    {"topic": "candidate.activity", "partition": 2, "offset": 17,
     "timestamp": "2026-11-01T09:30:00.123000+00:00", "timestamp_ms": 1793525400123,
     "key": "cand-000123", "headers": [["nurture.source", "ats"]],
     "framing": "single-object", "subject": "activity_event", "version": 1,
     "value": {...the decoded record...}}

Values that are not records of the registry (changelog rows, dead letters that never decoded)
are kept as ``"value_base64"``, tombstones as ``"value": null``; keys and header values that
are not UTF-8 as ``{"$base64": ...}``. Import re-encodes each value in the current schema
version of its subject and produces it with the same key, headers and timestamp (the default
partitioner puts equal keys on equal partitions, as the SDK does).

Schema Registry mode: export reads both framings (``framing`` says which the record had);
import writes the framing the *target* deployment is configured for, whatever the line's
``framing`` (a file exported before a migration imports Confluent-framed into a deployment in
registry mode, and single-object into one without). ``value_base64`` lines are produced as
their bytes, untouched. The worker's dead-letter topics carry no Avro of their own (no registry
subject): a decoded dead letter is written under the subject of the topic it was read from
(``candidate.activity`` for ``candidate.activity.dlq``), the frame that topic's writers use and
a redrive puts back there.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.codec import default_codec
from schemas.errors import SchemaError
from schemas.kafka_seam import clients
from schemas.kafka_seam.proto import Record
from schemas.schema_registry.codec import SingleObjectCodec, WireCodec
from schemas.schema_registry.framing import framing_of
from schemas.settings import KafkaSettings
from schemas.topics import TOPICS_BY_NAME
from streams.replay.errors import ReplayError
from streams.replay.json_form import from_json, to_json
from streams.replay.reader import read_topic, topic_reader
from streams.worker.dlq import DLQ_FOR

#: ``(key, value, headers, timestamp_ms)`` of one record to produce.
Produced = tuple[bytes | None, bytes | None, list[tuple[str, bytes]], int | None]
#: Encodes a record of a subject (the subject's name, the record).
Encode = Callable[[str, dict[str, Any]], bytes]
#: The worker's dead-letter topics -> the topic whose records they keep (unprefixed names).
_ORIGIN_OF_DLQ = {dlq: origin for origin, dlq in DLQ_FOR.items()}


def export_lines(
    kafka: KafkaSettings,
    topic: str,
    from_ms: int | None,
    to_ms: int | None,
    wire: WireCodec | None = None,
) -> Iterator[bytes]:
    """JSON lines (without newline) of ``topic``'s records with ``from_ms <= ts < to_ms``,
    decoded with ``wire`` (None: single-object frames only)."""
    with topic_reader(kafka) as topics:
        for record in read_topic(topics, topic, from_ms, to_ms):
            yield orjson.dumps(record_to_json(record, wire))


def _single_object() -> WireCodec:
    return SingleObjectCodec(default_codec())


def record_to_json(record: Record, wire: WireCodec | None = None) -> dict[str, Any]:
    """One exported line as a dict (values decoded with ``wire``, default single-object)."""
    line: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(),
        "timestamp_ms": record.timestamp,
        "key": _text_or_b64(record.key),
        "headers": [[name, _text_or_b64(value)] for name, value in record.headers or ()],
    }
    if record.value is None:
        line["value"] = None
        return line
    try:
        decoded = (wire or _single_object()).decode(record.value)
    except SchemaError:
        line["value_base64"] = base64.b64encode(record.value).decode()
        return line
    schema = default_codec().catalog.subject(decoded.subject).current.schema
    line["framing"] = framing_of(record.value)
    line["subject"] = decoded.subject
    line["version"] = decoded.version
    line["value"] = to_json(schema, decoded.record)
    return line


def line_to_record(line: dict[str, Any], encode: Encode | None = None) -> Produced:
    """``(key, value, headers, timestamp_ms)`` to produce for one exported line; values
    encoded with ``encode`` (subject, record; default single-object)."""
    key = _bytes(line.get("key"))
    headers = [(str(name), _bytes(value) or b"") for name, value in line.get("headers") or ()]
    timestamp = line.get("timestamp_ms")
    if "value_base64" in line:
        return key, base64.b64decode(line["value_base64"]), headers, timestamp
    value = line.get("value")
    if value is None:
        return key, None, headers, timestamp
    subject = line.get("subject")
    if not subject:
        raise ReplayError("a line with a value needs its 'subject' (or 'value_base64')")
    codec = default_codec()
    schema = codec.catalog.subject(subject).current.schema
    record = from_json(schema, value)
    encoded = codec.encode(subject, record) if encode is None else encode(subject, record)
    return key, encoded, headers, timestamp


def import_lines(
    kafka: KafkaSettings,
    topic: str,
    lines: Iterable[str | bytes],
    wire: WireCodec | None = None,
) -> int:
    """Produce every JSON line to ``topic`` (full name); return how many were acknowledged.
    Values are written in ``wire``'s framing (None: single-object; see the module docstring).

    Raises :class:`ReplayError` naming the line number of the first bad line (nothing of the
    file is produced then: all lines are converted before the first send)."""
    encode = _encoder(kafka, topic, wire)
    records = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            records.append(line_to_record(orjson.loads(text), encode))
        except (orjson.JSONDecodeError, SchemaError, ReplayError, ValueError) as exc:
            raise ReplayError(f"line {number}: {exc}") from exc
    producer = clients.producer(kafka, acks="all", linger_ms=20)
    try:
        futures = [
            producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=ts)
            for key, value, headers, ts in records
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()
    return len(records)


def _encoder(kafka: KafkaSettings, topic: str, wire: WireCodec | None) -> Encode | None:
    """How values for ``topic`` are encoded: None (single-object, any subject) unless
    ``wire`` writes the Confluent framing; then through the registry subject of the declared
    topic, or for a worker's dead-letter topic of the topic it keeps records of (a subject the
    topic does not carry: ConfigError; an undeclared topic: ReplayError)."""
    if wire is None or wire.framing == "single-object":
        return None
    prefix = kafka.topic_prefix
    declared = topic[len(prefix) :] if topic.startswith(prefix) else topic
    if declared not in TOPICS_BY_NAME:
        raise ReplayError(f"{topic} is no declared topic: no registry subject to import it under")
    subjects_of = _ORIGIN_OF_DLQ.get(declared, declared)

    def encode(subject: str, record: dict[str, Any]) -> bytes:
        return wire.encoder(subjects_of, subject).encode(record)

    return encode


def _text_or_b64(data: bytes | None) -> str | dict[str, str] | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return {"$base64": base64.b64encode(data).decode()}


def _bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return base64.b64decode(value["$base64"])
    return str(value).encode()
