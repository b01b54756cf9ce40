"""Interop with other clients in Schema Registry mode (issue #18, item 4), against the real broker
and a real local Apicurio Registry (its Confluent-compatible API, as any client would use it).

confluent-kafka stands for the ecosystem: its ``AvroSerializer`` with its own
``SchemaRegistryClient`` writes activity events (keyed by candidate id, ``murmur2_random``: the
partitioner trap, docs/integrations.md) that the worker scores exactly like SDK events, and its
``AvroDeserializer`` reads what the project writes to ``candidate.engagement`` (the worker) and
``nurture.delivery`` (delivery). Subjects: TopicNameStrategy, and RecordNameStrategy for
``candidate.profile``. An incompatible change is refused by the registry through confluent-kafka's
client here; ``nurture schemas register`` refusing one is tested in
tests/test_schema_registry_mode.py (``test_an_incompatible_version_is_refused_by_the_registry_
naming_the_subject``, ``test_the_command_refuses_what_the_registry_refuses_and_exits_1``).

``registry`` tests (Java 21+, the release cached on first use) that use the broker too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from producers.producer import NurtureProducer
from producers.records import CONTENT_TYPE, CONTENT_TYPE_HEADER, SOURCE_HEADER
from schemas.catalog import REGISTRY_DIR
from schemas.kafka_seam import clients, topic_admin
from schemas.schema_registry.codec import ConfluentCodec
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTION_DLQ, ACTIVITY, ACTIVITY_DLQ, DELIVERY, ENGAGEMENT, PROFILE
from streams.bench.loadgen import LoadSpec, activity_events
from streams.scoring.config import load_model
from streams.worker.dlq import HEADER_ERROR_CLASS
from streams.worker.outbox import key_partition
from tests import registry_support
from tests.kafka_helpers import read_all, unique, wait_until
from tests.registry_support import (
    TOPIC_STRATEGY,
    Record,
    activity_payload_branches,
    avro_deserialize,
    confluent_client,
    decoded,
    latest_by_key,
    reference,
    registered_codec,
    with_named_payload,
)
from tests.test_delivery_support import (
    Receiver,
    action,
    http_receiver,
    profile,
    publish_profile,
    running_delivery,
    settings_for,
)
from tests.test_schema_registry_units import RECORDS
from tests.worker_support import WorkerHarness, answering, differences

pytestmark = [pytest.mark.registry, pytest.mark.kafka]

CANDIDATES = 12
EVENTS_EACH = 4
#: Fields of an engagement record that name the candidate or where its last event was.
WHERE_FIELDS = ("candidate_id", "last_event_id", "source_partition", "source_offset")
REGISTRY_MODE = "NURTURE_SCHEMA_REGISTRY_URL"


registry_url = registry_support.registry_url


def _twin_events(run: str) -> tuple[list[Record], list[Record]]:
    """The same events twice: for candidates ``cand-sdk-N`` and ``cand-avro-N`` (fresh ids)."""
    template = list(activity_events(LoadSpec(events=CANDIDATES * EVENTS_EACH, run=run)))

    def twin(kind: str) -> list[Record]:
        return [
            {**e, "event_id": f"evt-{uuid.uuid4().hex}", "candidate_id": f"cand-{kind}-{n % 12}"}
            for n, e in enumerate(template)
        ]

    return twin("sdk"), twin("avro")


def _produce_with_avro_serializer(kafka: KafkaSettings, url: str, events: list[Record]) -> None:
    """What a non-Python team would do: confluent-kafka's AvroSerializer, subject by
    TopicNameStrategy, no auto-registration (the schema is registered by the pipeline's CI),
    murmur2 for the key, the headers the SDK writes."""
    topic = kafka.topic(ACTIVITY)
    serializer = AvroSerializer(
        confluent_client(url),
        conf={"auto.register.schemas": False, "use.latest.version": True, **TOPIC_STRATEGY},
    )
    producer = Producer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
        }
    )
    delivered: list[Any] = []

    def report(error: Any, message: Any) -> None:
        assert error is None, error
        delivered.append(message)

    branches = activity_payload_branches()
    headers: list[tuple[str, str | bytes | None]] = [
        (CONTENT_TYPE_HEADER, CONTENT_TYPE),
        (SOURCE_HEADER, b"interop-test"),
    ]
    context = SerializationContext(topic, MessageField.VALUE)
    for event in events:
        value = serializer(with_named_payload(event, branches), context)
        key = event["candidate_id"].encode()
        producer.produce(topic, key=key, value=value, headers=headers, on_delivery=report)
    assert producer.flush(30) == 0
    assert len(delivered) == len(events)
    for message in delivered:  # murmur2_random places keys as the SDK and Java do
        assert message.partition() == key_partition(message.key(), kafka.topic_partitions)
        assert message.value()[0] == 0  # the Confluent wire format


@dataclass(frozen=True)
class Scored:
    """A worker in registry mode has read the twin events (SDK and AvroSerializer written)."""

    kafka: KafkaSettings
    url: str
    codec: ConfluentCodec
    dead_letters: list[Any]
    sdk_framing: bytes  # the first bytes of what the SDK wrote: 00 once the SDK is switched
    log: str


@pytest.fixture(scope="module")
def scored(
    kafka_base: KafkaSettings, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scored]:
    kafka = kafka_base.model_copy(update={"topic_prefix": unique("interop") + "."})
    assert topic_admin.create_all(kafka).ok
    tmp = tmp_path_factory.mktemp("interop-worker")
    harness = WorkerHarness(
        kafka, tmp, unique("interop"), store="memory://", env={REGISTRY_MODE: registry_url}
    )
    try:
        codec = registered_codec(registry_url, kafka)
        sdk_events, avro_events = _twin_events("interop")
        with pytest.MonkeyPatch.context() as env:
            env.setenv(REGISTRY_MODE, registry_url)  # the SDK in registry mode, once switched
            with NurtureProducer(kafka) as producer:
                for event in sdk_events:
                    producer.send(event)
                producer.flush()
        _produce_with_avro_serializer(kafka, registry_url, avro_events)
        worker = answering(harness.worker().start(), harness)
        harness.wait_caught_up(worker)
        first = read_all(kafka, kafka.topic(ACTIVITY))
        sdk_framing = bytes(m.value[0] for m in first if b"cand-sdk" in m.key)
        letters = read_all(kafka, kafka.topic(ACTIVITY_DLQ))
        yield Scored(kafka, registry_url, codec, letters, sdk_framing, harness.logs())
    finally:
        harness.close()
        topic_admin.delete_prefixed(kafka)


def test_avro_serializer_events_are_scored_exactly_like_sdk_events(scored: Scored) -> None:
    reasons = sorted(
        {dict(m.headers).get(HEADER_ERROR_CLASS, b"?").decode() for m in scored.dead_letters}
    )
    assert not scored.dead_letters, (
        f"the worker dead-lettered {len(scored.dead_letters)} activity records ({reasons}): "
        "it does not read the Confluent framing yet (the worker's switch to wire_codec, "
        f"issue #18 item 2)\n{scored.log}"
    )
    kafka, codec = scored.kafka, scored.codec
    published = decoded(codec, "engagement_record", latest_by_key(kafka, ENGAGEMENT))
    expected = reference(load_model(), kafka, lambda v: codec.decode_as("activity_event", v))
    assert len(expected) == 2 * CANDIDATES
    assert not differences(expected, published)
    for n in range(CANDIDATES):
        sdk, avro = published[f"cand-sdk-{n}"], published[f"cand-avro-{n}"]
        assert sdk is not None and avro is not None
        for field in WHERE_FIELDS:
            sdk.pop(field), avro.pop(field)
        assert sdk == avro, n  # the same events, the same score, tier and contributions


def test_avro_deserializer_reads_engagement_records_written_by_the_worker(scored: Scored) -> None:
    kafka, client = scored.kafka, confluent_client(scored.url)
    values = {k: v for k, v in latest_by_key(kafka, ENGAGEMENT).items() if v is not None}
    assert len(values) >= CANDIDATES, scored.log
    single_object = sorted(k for k, v in values.items() if v[0] != 0)
    assert not single_object, (
        f"{len(single_object)} of {len(values)} engagement records are single-object frames: "
        "the worker does not write the Confluent framing yet (its switch, issue #18 item 2)"
    )
    topic = kafka.topic(ENGAGEMENT)
    for key, value in values.items():
        theirs = avro_deserialize(client, topic, value)
        assert theirs == scored.codec.decode_as("engagement_record", value), key
        assert theirs["candidate_id"] == key


def test_avro_deserializer_reads_delivery_outcomes_written_by_delivery(
    kafka: KafkaSettings, registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = registered_codec(registry_url, kafka)
    monkeypatch.setenv(REGISTRY_MODE, registry_url)  # the SDK and delivery in registry mode
    publish_profile(kafka, profile("cand-interop-1"))
    decided = action("cand-interop-1")
    encoder = codec.encoder(ACTION, "nurture_action")
    producer = clients.producer(kafka, acks="all")
    try:  # the decision as the worker writes it in registry mode: Confluent-framed
        producer.send(
            kafka.topic(ACTION), key=b"cand-interop-1", value=encoder.encode(decided.to_avro())
        )
        producer.flush()
    finally:
        producer.close()

    def outcomes() -> list[bytes]:
        return [r.value for r in read_all(kafka, kafka.topic(DELIVERY))]

    def dead_letters() -> list[bytes]:
        return [r.value for r in read_all(kafka, kafka.topic(ACTION_DLQ))]

    with http_receiver(Receiver()) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        with running_delivery(kafka, settings):
            wait_until(lambda: outcomes() or dead_letters(), timeout_s=60, what="an outcome")
    assert not dead_letters(), (
        "delivery dead-lettered the Confluent-framed action: it does not read the Confluent "
        "framing yet (its switch, issue #18 item 2)"
    )
    values = outcomes()
    assert all(v[0] == 0 for v in values), (
        "delivery wrote single-object outcomes: it does not write the Confluent framing yet "
        "(its switch, issue #18 item 2)"
    )
    client = confluent_client(registry_url)
    for value in values:
        theirs = avro_deserialize(client, kafka.topic(DELIVERY), value)
        assert theirs == codec.decode_as("delivery_outcome", value)
        assert (theirs["action_id"], theirs["outcome"]) == (decided.action_id, "sent")


def test_candidate_profile_subjects_follow_record_name_strategy(
    kafka: KafkaSettings, registry_url: str
) -> None:
    """confluent-kafka with ``record_subject_name_strategy`` finds the ids the project writes on
    candidate.profile, and either side reads the other's frames; the activity frame an
    AvroSerializer writes is byte for byte the project's."""
    codec = registered_codec(registry_url, kafka)
    client = confluent_client(registry_url)
    topic = kafka.topic(PROFILE)
    context = SerializationContext(topic, MessageField.VALUE)
    erasure_schema = (REGISTRY_DIR / "erasure_request" / "v1.avsc").read_text()
    serializer = AvroSerializer(
        client,
        erasure_schema,
        conf={
            "auto.register.schemas": False,
            "use.latest.version": True,
            "subject.name.strategy": record_subject_name_strategy,
        },
    )
    theirs = serializer(RECORDS["erasure_request"], context)
    assert theirs == codec.encoder(PROFILE, "erasure_request").encode(RECORDS["erasure_request"])
    read = codec.decode(theirs)
    assert (read.subject, read.record) == ("erasure_request", RECORDS["erasure_request"])
    for subject in ("candidate_profile", "erasure_request"):
        ours = codec.encoder(PROFILE, subject).encode(RECORDS[subject])
        assert avro_deserialize(client, topic, ours) == RECORDS[subject]

    activity_topic = kafka.topic(ACTIVITY)
    event = RECORDS["activity_event"]
    activity = AvroSerializer(
        client, conf={"auto.register.schemas": False, "use.latest.version": True, **TOPIC_STRATEGY}
    )
    named = {**event, "payload": (activity_payload_branches()[event["type"]], event["payload"])}
    framed = activity(named, SerializationContext(activity_topic, MessageField.VALUE))
    assert framed == codec.encoder(ACTIVITY, "activity_event").encode(event)


def test_an_incompatible_change_is_refused_through_confluent_kafkas_client(
    kafka: KafkaSettings, registry_url: str
) -> None:
    """The project registered candidate.engagement with FULL_TRANSITIVE; another team's
    incompatible version (a field's type changed) is refused by the registry when confluent-kafka's
    client tests or registers it. (`nurture schemas register` refusing: see the module doc.)"""
    registered_codec(registry_url, kafka)
    subject = f"{kafka.topic_prefix}candidate.engagement-value"
    schema = json.loads((REGISTRY_DIR / "engagement_record" / "v1.avsc").read_text())
    next(f for f in schema["fields"] if f["name"] == "score")["type"] = "string"
    incompatible = Schema(json.dumps(schema), "AVRO")
    client = confluent_client(registry_url)
    assert client.get_compatibility(subject) == "FULL_TRANSITIVE"
    assert client.test_compatibility(subject, incompatible) is False
    before = client.get_versions(subject)
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, incompatible)
    assert refused.value.http_status_code == 409, refused.value
    assert client.get_versions(subject) == before
