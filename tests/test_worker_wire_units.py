"""The worker's processors in Schema Registry mode, in memory (a stand-in registry).

What reaches the worker in both framings is scored alike; Confluent frames whose schema id the
registry does not know, or that arrive while it does not answer, are dead-lettered with the
reason and the batch goes on (the registry is asked once, then failures are immediate: never a
stall); the worker's outputs are Confluent framed with the ids it looked up at start-up.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from prometheus_client import CollectorRegistry

from schemas import wire
from schemas.catalog import default_catalog
from schemas.codec import Codec, activity_codec, codec_for, default_codec
from schemas.errors import ConfigError
from schemas.schema_registry import framing
from schemas.schema_registry.codec import ConfluentCodec
from schemas.schema_registry.resolver import SchemaIdResolver
from schemas.schema_registry.subjects import schema_text
from schemas.topics import ENGAGEMENT
from streams.bench.loadgen import LoadSpec, encoded_events
from streams.scoring.config import load_model
from streams.worker.dlq import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor
from streams.worker.wire import WorkerCodecs, single_object_codecs, worker_codecs
from tests.test_schema_registry_units import FakeRegistry

ACTIVITY_ID, ENGAGEMENT_ID, ACTION_ID, SUPPRESSION_ID = 11, 12, 13, 14
#: activity_event v1's id (registered by another writer long ago; the worker writes none).
ACTIVITY_V1_ID = 10


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: tuple[()]


def _text(subject: str) -> str:
    return schema_text(default_codec().subject(subject).reader.schema)


def _registry() -> FakeRegistry:
    return FakeRegistry(
        {
            ACTIVITY_ID: _text("activity_event"),
            ENGAGEMENT_ID: _text("engagement_record"),
            ACTION_ID: _text("nurture_action"),
            SUPPRESSION_ID: _text("candidate_suppression"),
        }
    )


def _codecs(registry: FakeRegistry) -> WorkerCodecs:
    codec = default_codec()
    resolver = SchemaIdResolver(registry, codec.catalog, unavailable_retry_s=60)
    return worker_codecs(ConfluentCodec(codec, registry, resolver))


def _outputs(codecs: WorkerCodecs) -> Outputs:
    return Outputs(
        table=SimpleNamespace(data={}),
        changelog="changelog",
        engagement="engagement",
        dlq={"activity": "activity.dlq"},
        partitions={"changelog": 1, "engagement": 1, "activity.dlq": 1},
        metrics=WorkerMetrics(CollectorRegistry()),
        codecs=codecs,
    )


def _confluent(value: bytes, schema_id: int) -> bytes:
    return framing.header(schema_id) + value[wire.HEADER_SIZE :]


def _messages(pairs: list[tuple[bytes, bytes]]) -> list[Message]:
    return [Message("activity", 0, offset, k, v, ()) for offset, (k, v) in enumerate(pairs)]


def _engagement(step: Any) -> dict[bytes, bytes]:
    return {key: value for key, value, _ in step.outbox.records.get(("engagement", 0), [])}


def test_both_framings_score_alike_and_the_output_is_confluent_framed() -> None:
    events = encoded_events(LoadSpec(events=200, candidates=4, run="wire"))
    mixed = [(k, _confluent(v, ACTIVITY_ID) if i % 2 else v) for i, (k, v) in enumerate(events)]
    codecs = _codecs(_registry())
    framed_step = ActivityProcessor(load_model(), _outputs(codecs)).process(_messages(mixed))
    plain_step = ActivityProcessor(load_model(), _outputs(single_object_codecs())).process(
        _messages(events)
    )
    framed, plain = _engagement(framed_step), _engagement(plain_step)
    assert framed.keys() == plain.keys() and len(framed) == 4
    decode = codecs.wire.subject_decoder(codec_for("engagement_record"))
    for key, value in framed.items():
        assert value[:5] == framing.header(ENGAGEMENT_ID)
        assert value[5:] == plain[key][wire.HEADER_SIZE :]  # the same body
        assert decode(value) == codec_for("engagement_record").decode(plain[key])
    assert not framed_step.outbox.records.get(("activity.dlq", 0))


@pytest.mark.parametrize(
    ("registry_down", "error_class"),
    [(False, "UnknownSchemaIdError"), (True, "SchemaRegistryUnavailableError")],
)
def test_records_the_registry_cannot_resolve_are_dead_lettered_and_the_batch_goes_on(
    registry_down: bool, error_class: str
) -> None:
    registry = _registry()
    codecs = _codecs(registry)  # the output ids are looked up before the registry goes down
    registry.down = registry_down
    before = registry.requests
    events = encoded_events(LoadSpec(events=60, candidates=3, run="unknown"))
    bad = [(k, _confluent(v, 999)) for k, v in events[:20]]
    step = ActivityProcessor(load_model(), _outputs(codecs)).process(_messages(bad + events[20:]))
    letters = step.outbox.records[("activity.dlq", 0)]
    assert len(letters) == 20
    for _key, _value, headers in letters:
        found = dict(headers or [])
        assert found[HEADER_ERROR_CLASS] == error_class.encode()
        assert found[HEADER_ERROR_MESSAGE]  # the reason: the id, or the registry's state
    assert registry.requests - before == 1  # asked once, then cached or failing fast
    assert _engagement(step)  # the good events were scored


def test_activity_ids_cached_before_an_outage_keep_decoding() -> None:
    registry = _registry()
    codecs = _codecs(registry)
    events = encoded_events(LoadSpec(events=10, candidates=1, run="cached"))
    framed = [(k, _confluent(v, ACTIVITY_ID)) for k, v in events]
    codecs.decode_activity(framed[0][1])
    registry.down = True
    step = ActivityProcessor(load_model(), _outputs(codecs)).process(_messages(framed))
    assert not step.outbox.records.get(("activity.dlq", 0))


def test_every_registered_version_the_worker_reads_is_cached_at_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An older activity version seen first during an outage still decodes (it is not dead-
    lettered: an unsubscribe written with it takes effect in order); versions the registry does
    not have are logged in one line, no error."""
    registry = _registry()
    v1 = default_catalog().subject("activity_event").version(1)
    registry.schemas[ACTIVITY_V1_ID] = schema_text(v1.schema)
    with caplog.at_level(logging.INFO, logger="schemas.schema_registry.codec"):
        codecs = _codecs(registry)
    registry.down = True
    record = {**codec_for("activity_event").decode(encoded_events(LoadSpec(events=1))[0][1])}
    del record["correlation_id"]
    old = Codec(default_catalog(), reader_versions={"activity_event": 1})
    framed = _confluent(old.encode("activity_event", record), ACTIVITY_V1_ID)
    assert codecs.decode_activity(framed)["event_id"] == record["event_id"]
    assert registry.requests == 0  # from the start-up cache, not the (down) registry
    (logged,) = [r.getMessage() for r in caplog.records if "not registered" in r.getMessage()]
    assert "candidate_profile v1" in logged and "erasure_request v1" in logged
    assert "activity_event" not in logged  # both of its versions are registered


def test_an_output_schema_that_is_not_registered_stops_the_start() -> None:
    registry = _registry()
    del registry.schemas[SUPPRESSION_ID]
    with pytest.raises(ConfigError, match="nurture schemas register"):
        _codecs(registry)


def test_mode_off_the_codecs_are_the_single_object_ones() -> None:
    codecs = single_object_codecs()
    assert codecs.wire.framing == "single-object"
    value = encoded_events(LoadSpec(events=1, run="off"))[0][1]
    assert codecs.decode_activity(value)["event_id"] == activity_codec().decode(value)["event_id"]
    assert codecs.wire.encoder(ENGAGEMENT, "engagement_record").header[:2] == wire.MARKER
