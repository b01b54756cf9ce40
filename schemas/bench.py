"""Micro-benchmark of the event codec (``nurture bench codec``).

Measures one typical activity event (a career-site page view that went through the gateway) on
the hot path: :class:`schemas.codec.ActivityCodec` encode, decode and both, plus decoding bytes
of the oldest schema version (schema resolution), and separately the pydantic edge: validating
the Avro dict into an :class:`~schemas.models.ActivityEvent` and parsing the JSON form. Each
figure is in microseconds per event, from the fastest chunk of 1,000 events over ``repeats``
runs of ``n`` events: other processes on the machine only ever slow a chunk down, so the fastest
is the codec's own cost (a busy machine's average is higher). Target: ``roundtrip_us`` < 20 on
the development machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas.codec import Codec, activity_codec, default_codec
from schemas.events import ActivityEvent, parse_event
from schemas.fast_writer.builders import activity_writer
from schemas.schema_registry.codec import ConfluentCodec
from schemas.schema_registry.resolver import SchemaIdResolver
from schemas.schema_registry.subjects import schema_text
from schemas.subject_codec import ActivityCodec
from schemas.topics import ACTIVITY

#: Calls timed together; short enough to fit between other processes' time slices.
CHUNK = 1_000


def typical_event() -> dict[str, Any]:
    """A realistic activity event in Avro dict form (page view of a job ad, via the gateway)."""
    return {
        "event_id": "0190d3c2-7b1e-7cc0-9d4e-3b0a6c1f2e55",
        "type": "page_viewed",
        "candidate_id": "cand-8f14e45fceea167a",
        "occurred_at": datetime(2025, 3, 1, 9, 30, 12, 345678, tzinfo=UTC),
        "source": "career-site",
        "received_at": datetime(2025, 3, 1, 9, 30, 12, 401234, tzinfo=UTC),
        "correlation_id": None,
        "payload": {
            "url": "https://careers.example.com/jobs/4711-senior-data-engineer",
            "page_type": "job",
            "job_id": "4711",
            "content_id": None,
            "referrer": None,
        },
    }


def bench_codec(n: int = 100_000, repeats: int = 3) -> dict[str, float]:
    """Microseconds per event for each step (fastest chunk of ``repeats`` runs of ``n`` events).

    Keys: ``encode_us``, ``decode_us``, ``roundtrip_us`` (encode then decode),
    ``decode_oldest_version_us`` (bytes of activity_event v1 resolved to the current version),
    ``fast_encode_us`` (the producers' compiled writer, :mod:`schemas.fast_writer`),
    ``confluent_encode_us``, ``confluent_fast_encode_us`` and ``confluent_decode_us`` (the same
    in the Confluent wire format, schema id cached), ``both_framings_decode_us`` (a
    single-object frame through the decoder of both framings, as readers in Schema Registry
    mode decode), ``model_validate_us`` (Avro dict -> ActivityEvent), ``model_parse_json_us``
    (JSON form -> ActivityEvent), ``model_to_avro_us``, and ``event_bytes`` (size on the wire).
    The pydantic steps run ``n // 10`` times: they are an order of magnitude slower.
    """
    codec = activity_codec()
    record = typical_event()
    data = codec.encode(record)
    oldest = _oldest_version_bytes(record)
    model = ActivityEvent.from_avro(record)
    json_form = model.model_dump(mode="json")
    slow_n = max(1, n // 10)

    def roundtrip() -> object:
        return codec.decode(codec.encode(record))

    confluent_encoder, read_either = _confluent_codecs()
    confluent_data = confluent_encoder.encode(record)
    fast, confluent_fast = activity_writer(codec), activity_writer(confluent_encoder)

    return {
        "encode_us": best_time_us(lambda: codec.encode(record), n, repeats),
        "decode_us": best_time_us(lambda: codec.decode(data), n, repeats),
        "roundtrip_us": best_time_us(roundtrip, n, repeats),
        "decode_oldest_version_us": best_time_us(lambda: codec.decode(oldest), n, repeats),
        "fast_encode_us": best_time_us(lambda: fast.encode(record), n, repeats),
        "confluent_encode_us": best_time_us(lambda: confluent_encoder.encode(record), n, repeats),
        "confluent_fast_encode_us": best_time_us(lambda: confluent_fast.encode(record), n, repeats),
        "confluent_decode_us": best_time_us(lambda: read_either(confluent_data), n, repeats),
        "both_framings_decode_us": best_time_us(lambda: read_either(data), n, repeats),
        "model_validate_us": best_time_us(lambda: ActivityEvent.from_avro(record), slow_n, repeats),
        "model_parse_json_us": best_time_us(lambda: parse_event(json_form), slow_n, repeats),
        "model_to_avro_us": best_time_us(model.to_avro, slow_n, repeats),
        "event_bytes": float(len(data)),
    }


class _OneSchemaId:
    """An in-memory registry that gives every schema the id 1 (no network in a benchmark)."""

    url = "memory://"

    def __init__(self, text: str) -> None:
        self._text = text

    def lookup(self, subject: str, schema: str) -> int | None:
        return 1

    def schema_by_id(self, schema_id: int) -> str:
        return self._text


def _confluent_codecs() -> tuple[ActivityCodec, Callable[[bytes], dict[str, Any]]]:
    """The Confluent-framed activity encoder (schema id 1) and the decoder of both framings."""
    codec = default_codec()
    version = codec.subject("activity_event").reader
    ids = _OneSchemaId(schema_text(version.schema))
    confluent = ConfluentCodec(codec, ids, SchemaIdResolver(ids, codec.catalog))
    encoder = confluent.encoder(ACTIVITY, "activity_event")
    assert isinstance(encoder, ActivityCodec)
    return encoder, confluent.subject_decoder(activity_codec())


def _oldest_version_bytes(record: dict[str, Any]) -> bytes:
    """The record written with activity_event v1, as a producer not yet upgraded would."""
    old = Codec(default_codec().catalog, reader_versions={"activity_event": 1})
    fields = {f["name"] for f in old.subject("activity_event").reader.schema["fields"]}
    return old.encode("activity_event", {k: v for k, v in record.items() if k in fields})


def best_time_us(step: Callable[[], object], n: int, repeats: int, *, chunk: int = CHUNK) -> float:
    """Microseconds per call of ``step``: ``repeats`` runs of ``n`` calls, timed in chunks of
    ``chunk`` calls; the fastest chunk counts (like ``timeit``'s advice to take the minimum)."""
    chunk = max(1, min(chunk, n))
    best = float("inf")
    for _ in range(max(1, repeats)):
        for _ in range(max(1, n // chunk)):
            start = time.perf_counter()
            for _ in range(chunk):
                step()
            best = min(best, time.perf_counter() - start)
    return best / chunk * 1e6
