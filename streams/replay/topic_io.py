"""`nurture topics export|import`: a topic's records as JSON lines and back.

One line per record::

    {"topic": "candidate.activity", "partition": 2, "offset": 17,
     "timestamp": "2026-11-01T09:30:00.123000+00:00", "timestamp_ms": 1793525400123,
     "key": "cand-000123", "headers": [["nurture.source", "ats"]],
     "subject": "activity_event", "version": 1, "value": {...the decoded record...}}

Values that are not records of the registry (changelog rows, dead letters that never decoded)
are kept as ``"value_base64"``, tombstones as ``"value": null``; keys and header values that
are not UTF-8 as ``{"$base64": ...}``. Import re-encodes each value in the current schema
version of its subject and produces it with the same key, headers and timestamp (the default
partitioner puts equal keys on equal partitions, as the SDK does).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.codec import default_codec
from schemas.errors import SchemaError
from schemas.kafka_seam import clients
from schemas.kafka_seam.proto import Record
from schemas.settings import KafkaSettings
from streams.replay.errors import ReplayError
from streams.replay.json_form import from_json, to_json
from streams.replay.reader import read_topic, topic_reader

#: ``(key, value, headers, timestamp_ms)`` of one record to produce.
Produced = tuple[bytes | None, bytes | None, list[tuple[str, bytes]], int | None]


def export_lines(
    kafka: KafkaSettings, topic: str, from_ms: int | None, to_ms: int | None
) -> Iterator[bytes]:
    """JSON lines (without newline) of ``topic``'s records with ``from_ms <= ts < to_ms``."""
    with topic_reader(kafka) as topics:
        for record in read_topic(topics, topic, from_ms, to_ms):
            yield orjson.dumps(record_to_json(record))


def record_to_json(record: Record) -> dict[str, Any]:
    """One exported line as a dict."""
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
    codec = default_codec()
    try:
        decoded = codec.decode(record.value)
    except SchemaError:
        line["value_base64"] = base64.b64encode(record.value).decode()
        return line
    schema = codec.catalog.subject(decoded.subject).current.schema
    line["subject"] = decoded.subject
    line["version"] = decoded.version
    line["value"] = to_json(schema, decoded.record)
    return line


def line_to_record(line: dict[str, Any]) -> Produced:
    """``(key, value, headers, timestamp_ms)`` to produce for one exported line."""
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
    return key, codec.encode(subject, from_json(schema, value)), headers, timestamp


def import_lines(kafka: KafkaSettings, topic: str, lines: Iterable[str | bytes]) -> int:
    """Produce every JSON line to ``topic``; return how many were acknowledged.

    Raises :class:`ReplayError` naming the line number of the first bad line (nothing of the
    file is produced then: all lines are converted before the first send)."""
    records = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            records.append(line_to_record(orjson.loads(text)))
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
