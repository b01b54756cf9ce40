"""Schema Registry mode in the SDK, the gateway and delivery, against the real broker and a real
registry (a local Apicurio on free ports, one for this module; issue #18, items 2 and 3).

With the catalog registered under each test's topic prefix: the SDK and the gateway write
Confluent frames (``00`` + the registered id) whose bodies are the single-object bodies;
delivery reads actions, profiles and unsubscribes in both framings, record by record, writes its
outcomes Confluent-framed, dead-letters an action whose schema id the registry does not know
(with the reason) and goes on. A registry that does not answer, or a schema not registered,
stops `nurture deliver` and `nurture gateway` at start in one line.

``registry`` tests: they need Java 21+ and the release in the cache (tests/test_registry_local.py).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers.codecs import DeliveryCodecs, delivery_codecs, registry_codecs
from consumers.metrics import DeliveryMetrics
from consumers.outcome_index import OutcomeIndex
from consumers.profiles import ERASED, ProfileState
from consumers.run import ProcessParts, build_loop
from consumers.settings import DeliverySettings
from consumers.suppression import SuppressionState
from producers.producer import NurtureProducer
from producers.records import CONTENT_TYPE, RecordEncoder
from schemas.catalog import default_catalog
from schemas.codec import codec_for, default_codec
from schemas.errors import WrongSubjectError
from schemas.kafka_seam import clients
from schemas.models import DeliveryOutcome, parse_delivery_outcome
from schemas.schema_registry import framing
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.codec import ConfluentCodec, confluent_codec
from schemas.schema_registry.register import register_catalog
from schemas.schema_registry.resolver import SchemaIdResolver
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.schema_registry.subjects import registry_subject, schema_text
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTION_DLQ, ACTIVITY, DELIVERY, PROFILE, SUPPRESSION
from tests import registry_support
from tests.kafka_helpers import read_all, wait_until
from tests.test_delivery_support import (
    Receiver,
    action,
    http_receiver,
    profile,
    publish_actions,
    publish_profile,
    settings_for,
)
from tests.test_gateway_support import auth, event, running_gateway

pytestmark = [pytest.mark.registry, pytest.mark.kafka]

#: A schema id no registry here has handed out (Apicurio counts from 1).
UNKNOWN_ID = 2_000_000_000
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


registry_url = registry_support.registry_url


@pytest.fixture
def registered(kafka: KafkaSettings, registry_url: str) -> SchemaRegistrySettings:
    """The registry's settings, with the catalog registered under the test's topic prefix."""
    settings = SchemaRegistrySettings(url=registry_url, timeout_s=10)
    with SchemaRegistryClient(settings) as client:
        register_catalog(client, default_catalog(), topic_prefix=kafka.topic_prefix)
    return settings


def _registered_id(
    settings: SchemaRegistrySettings, kafka: KafkaSettings, topic: str, subject: str
) -> int:
    where = registry_subject(topic, subject, topic_prefix=kafka.topic_prefix)
    with SchemaRegistryClient(settings) as client:
        found = client.lookup(where, schema_text(codec_for(subject).reader.schema))
    assert found is not None, where
    return found


def _unknown_id_frame(single_object: bytes) -> bytes:
    """A Confluent frame of the same body with a schema id the registry does not know."""
    return framing.header(UNKNOWN_ID) + single_object[10:]


def _send_raw(kafka: KafkaSettings, topic: str, *records: tuple[bytes, bytes]) -> None:
    producer = clients.producer(kafka, acks="all")
    try:
        for key, value in records:
            producer.send(kafka.topic(topic), key=key, value=value)
        producer.flush()
    finally:
        producer.close()


# --- writers ---------------------------------------------------------------------------------


def test_the_sdk_writes_confluent_frames_with_the_registered_ids(
    kafka: KafkaSettings, registered: SchemaRegistrySettings
) -> None:
    sent = {
        "event_id": str(uuid.uuid4()),
        "type": "page_viewed",
        "candidate_id": "cand-sr",
        "occurred_at": "2025-03-01T09:30:12.345678Z",
        "received_at": "2025-03-01T09:30:13Z",
        "source": "career-site",
        "payload": {"url": "https://careers.example.test/jobs/4711", "page_type": "job"},
    }
    with NurtureProducer(kafka, schema_registry=registered) as producer:
        assert producer.encoder.framing == "confluent"
        producer.send(sent).get(timeout=20)
        producer.upsert_profile(profile("cand-sr"))
        producer.request_erasure("cand-gone")
        producer.flush()
    codec = confluent_codec(registered, topic_prefix=kafka.topic_prefix)

    [record] = read_all(kafka, kafka.topic(ACTIVITY))
    single = RecordEncoder().event(sent).value  # the same event, single-object
    assert record.value[:1] == b"\x00"
    assert framing.read_schema_id(record.value) == _registered_id(
        registered, kafka, ACTIVITY, "activity_event"
    )
    assert record.value[framing.HEADER_SIZE :] == single[10:]  # the same Avro body
    assert codec.decode(record.value) == default_codec().decode(single)
    assert dict(record.headers)["content-type"] == CONTENT_TYPE  # unchanged: see records.py

    by_subject = {codec.decode(r.value).subject: r for r in read_all(kafka, kafka.topic(PROFILE))}
    assert set(by_subject) == {"candidate_profile", "erasure_request"}
    for subject, found in by_subject.items():
        assert framing.read_schema_id(found.value) == _registered_id(
            registered, kafka, PROFILE, subject
        )
        decoded = codec.decode(found.value)
        again = codec_for(subject).encode(decoded.record)  # its single-object twin
        assert found.value[framing.HEADER_SIZE :] == again[10:]
        assert default_codec().decode(again) == decoded


@pytest.fixture
def registry_in_environment(registry_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """NURTURE_SCHEMA_REGISTRY_URL set for the gateway, which reads it from the environment."""
    monkeypatch.setenv("NURTURE_SCHEMA_REGISTRY_URL", registry_url)


@pytest.mark.usefixtures("registry_in_environment")
def test_the_gateway_writes_confluent_frames_with_the_registered_ids(
    kafka: KafkaSettings, registered: SchemaRegistrySettings
) -> None:
    sent = event(candidate_id="cand-gw")
    body = {
        "contact": {"email": "ada@example.com", "first_name": "Ada"},
        "consents": {"email": {"granted": True, "granted_at": "2025-01-01T00:00:00Z"}},
        "updated_at": "2025-03-01T09:30:00Z",
    }
    with running_gateway(kafka) as client:
        accepted = client.post("/v1/events", json=sent, headers=auth())
        upserted = client.put("/v1/candidates/cand-gw/profile", json=body, headers=auth())
    assert (accepted.status_code, upserted.status_code) == (202, 202), upserted.text
    codec = confluent_codec(registered, topic_prefix=kafka.topic_prefix)

    [record] = read_all(kafka, kafka.topic(ACTIVITY))
    assert framing.read_schema_id(record.value) == _registered_id(
        registered, kafka, ACTIVITY, "activity_event"
    )
    decoded = codec.decode(record.value)
    assert (decoded.subject, decoded.record["event_id"]) == ("activity_event", sent["event_id"])
    again = codec_for("activity_event").encode(decoded.record)
    assert record.value[framing.HEADER_SIZE :] == again[10:]

    [stored] = read_all(kafka, kafka.topic(PROFILE))
    assert framing.read_schema_id(stored.value) == _registered_id(
        registered, kafka, PROFILE, "candidate_profile"
    )
    assert codec.decode(stored.value).record["candidate_id"] == "cand-gw"


# --- delivery --------------------------------------------------------------------------------


@contextmanager
def running_delivery(
    kafka: KafkaSettings,
    settings: DeliverySettings,
    codecs: DeliveryCodecs,
    metrics: DeliveryMetrics | None = None,
) -> Iterator[None]:
    """The webhook channel's loop with ``codecs``, in a thread; stopped (like SIGTERM) at exit."""
    metrics = metrics or DeliveryMetrics(CollectorRegistry())
    stop = threading.Event()
    errors: list[BaseException] = []
    with ExitStack() as resources:
        parts = ProcessParts(settings, kafka, metrics, codecs=codecs)
        loop = build_loop(resources, "webhook", parts)

        def _run() -> None:
            try:
                loop.run(stop)
            except BaseException as exc:
                logging.getLogger(__name__).exception("delivery loop failed")
                errors.append(exc)

        thread = threading.Thread(target=_run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not errors, errors


def test_delivery_reads_both_framings_writes_confluent_outcomes_and_dead_letters_unknown_ids(
    kafka: KafkaSettings, registered: SchemaRegistrySettings, tmp_path: Path
) -> None:
    codecs = registry_codecs(registered, topic_prefix=kafka.topic_prefix)
    with NurtureProducer(kafka, schema_registry=registered) as producer:
        producer.upsert_profile(profile("cand-new"))  # Confluent-framed
        producer.flush()
    publish_profile(kafka, profile("cand-old"))  # single-object (the mode is off here)
    confluent, old, unknown, after = (
        action("cand-new"),
        action("cand-old"),
        action("cand-new"),
        action("cand-new"),
    )
    encoder = codecs.wire.encoder(ACTION, "nurture_action")
    single = codec_for("nurture_action")
    unknown_bytes = _unknown_id_frame(single.encode(unknown.to_avro()))
    receiver = Receiver()
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        with running_delivery(kafka, settings, codecs):
            _send_raw(
                kafka,
                ACTION,
                # one partition (one key): the unknown id first, then an action that must follow
                (b"cand-new", unknown_bytes),
                (b"cand-new", encoder.encode(confluent.to_avro())),
                (b"cand-old", single.encode(old.to_avro())),
                (b"cand-new", encoder.encode(after.to_avro())),
            )
            records = wait_until(
                lambda: (
                    found if len(found := read_all(kafka, kafka.topic(DELIVERY))) >= 3 else None
                ),
                what="three outcomes",
            )
    outcome_id = _registered_id(registered, kafka, DELIVERY, "delivery_outcome")
    assert {framing.read_schema_id(r.value) for r in records} == {outcome_id}
    outcomes = [parse_delivery_outcome(codecs.decode_outcome(r.value)) for r in records]
    assert {o.action_id: o.outcome for o in outcomes} == {
        confluent.action_id: "sent",  # its profile, Confluent-framed, was read
        old.action_id: "sent",
        after.action_id: "sent",  # after the unknown id: the consumer went on
    }
    assert receiver.count() == 3
    [letter] = read_all(kafka, kafka.topic(ACTION_DLQ))
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.value == unknown_bytes
    assert headers["nurture-reason"] == "schema_error"
    assert headers["nurture-error-class"] == "UnknownSchemaIdError"
    assert f"schema id {UNKNOWN_ID}" in headers["nurture-error"]
    assert headers["nurture-origin"].startswith(kafka.topic(ACTION))


def _suppression(candidate_id: str, channel: str, when: datetime) -> dict[str, Any]:
    return {"candidate_id": candidate_id, "unsubscribed": {channel: when}, "updated_at": when}


def test_the_views_read_both_framings_and_skip_an_unknown_id_like_a_corrupt_record(
    kafka: KafkaSettings, registered: SchemaRegistrySettings
) -> None:
    """A view skips a record it cannot decode (logged), whatever the reason: the candidate
    keeps what their previous record said."""
    codecs = registry_codecs(registered, topic_prefix=kafka.topic_prefix)
    single = codec_for("candidate_suppression")
    confluent = codecs.wire.encoder(SUPPRESSION, "candidate_suppression")
    t1, t2, t3 = T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    _send_raw(
        kafka,
        SUPPRESSION,
        (b"c1", single.encode(_suppression("c1", "email", t1))),
        (b"c2", confluent.encode(_suppression("c2", "all", t2))),
        (b"c1", _unknown_id_frame(single.encode(_suppression("c1", "all", t3)))),
        (b"c3", b"\x00\x00"),  # corrupt: too short for a Confluent frame
    )
    outcome = DeliveryOutcome(
        action_id="a-confluent",
        candidate_id="c1",
        campaign_id="welcome-series",
        channel="webhook",
        outcome="sent",
        attempt=1,
        occurred_at=T0,
    ).to_avro()
    single_outcome = codec_for("delivery_outcome").encode({**outcome, "action_id": "a-single"})
    _send_raw(
        kafka,
        DELIVERY,
        (b"c1", codecs.outcome.encode(outcome)),
        (b"c1", single_outcome),
        (b"c1", _unknown_id_frame(codec_for("delivery_outcome").encode(outcome))),
    )
    with NurtureProducer(kafka, schema_registry=registered) as producer:
        producer.upsert_profile(profile("c-kept"))
        producer.request_erasure("c-gone")
    _send_raw(kafka, PROFILE, (b"c-kept", _unknown_id_frame(b"\xc3\x01" + bytes(8) + b"x")))

    with closing(SuppressionState(kafka, codecs=codecs)) as suppressions:
        suppressions.catch_up()
        assert suppressions.get("c1") == {"email": t1}
        assert suppressions.get("c2") == {"all": t2}
        assert suppressions.get("c3") == {}
    with closing(OutcomeIndex(kafka, "webhook", codecs=codecs)) as done:
        done.catch_up()
        assert "a-confluent" in done and "a-single" in done
    with closing(ProfileState(kafka, codecs=codecs)) as profiles:
        profiles.catch_up()
        kept = profiles.get("c-kept")
        assert not isinstance(kept, str) and kept is not None
        assert kept.contact.email == "c-kept@example.org"
        assert profiles.get("c-gone") == ERASED


class _Switchable:
    """The registry's schemas by id, or, while ``down``, a real refused connection (a client
    of a closed port); counts the requests refused."""

    def __init__(self, settings: SchemaRegistrySettings) -> None:
        self.up = SchemaRegistryClient(settings)
        self.dead = SchemaRegistryClient(
            SchemaRegistrySettings(url=f"http://127.0.0.1:{_closed_port()}", timeout_s=2)
        )
        self.url = self.up.url
        self.down = False
        self.refused = 0

    def schema_by_id(self, schema_id: int) -> str:
        if not self.down:
            return self.up.schema_by_id(schema_id)
        self.refused += 1
        return self.dead.schema_by_id(schema_id)

    def close(self) -> None:
        self.up.close()
        self.dead.close()


@pytest.fixture
def switchable(registered: SchemaRegistrySettings) -> Iterator[_Switchable]:
    with closing(_Switchable(registered)) as source:
        yield source


def test_delivery_holds_sends_while_a_view_waits_for_the_registry_and_resumes_after(
    kafka: KafkaSettings, switchable: _Switchable, tmp_path: Path
) -> None:
    """Another process of the channel sent an action and published its outcome with a schema
    version registered after this one started (its id not cached); the outcome arrives while
    the registry is down. Skipping it would send the action a second time: delivery holds
    every send instead, says so (the gauge), asks again with backoff, and once the registry
    answers leaves that action alone and sends the next."""
    source = switchable
    codec = default_codec()
    resolver = SchemaIdResolver(
        source, codec.catalog, unavailable_retry_s=0.2, unavailable_retry_max_s=0.4
    )
    wire = ConfluentCodec(codec, source.up, resolver, topic_prefix=kafka.topic_prefix)
    codecs = delivery_codecs(wire)  # caches the ids of every catalog version, as at start
    newer = dict(codec_for("delivery_outcome").reader.schema)
    newer["fields"] = [*newer["fields"], {"name": "region", "type": "string", "default": ""}]
    newer_id = source.up.register(
        registry_subject(DELIVERY, "delivery_outcome", topic_prefix=kafka.topic_prefix),
        schema_text(newer),
    )
    done, fresh = action("c-1"), action("c-1")  # one key: handled in this order
    publish_profile(kafka, profile("c-1"))
    elsewhere = DeliveryOutcome(
        action_id=done.action_id,
        candidate_id="c-1",
        campaign_id=done.campaign_id,
        channel="webhook",
        outcome="sent",
        attempt=1,
        occurred_at=T0,
    ).to_avro()
    body = codec_for("delivery_outcome").encode(elsewhere)[10:] + b"\x04eu"  # + region "eu"
    source.down = True
    _send_raw(kafka, DELIVERY, (b"c-1", framing.header(newer_id) + body))
    metrics_registry = CollectorRegistry()
    receiver = Receiver()

    def waiting() -> float | None:
        return metrics_registry.get_sample_value(
            "nurture_delivery_view_waiting_for_schema_registry",
            {"topic": kafka.topic(DELIVERY)},
        )

    def fresh_outcome() -> list[DeliveryOutcome]:
        records = read_all(kafka, kafka.topic(DELIVERY))
        ours = [r for r in records if framing.read_schema_id(r.value) != newer_id]
        found = [parse_delivery_outcome(codecs.decode_outcome(r.value)) for r in ours]
        return [o for o in found if o.action_id == fresh.action_id]

    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        metrics = DeliveryMetrics(metrics_registry)
        with running_delivery(kafka, settings, codecs, metrics):
            publish_actions(kafka, done, fresh)
            wait_until(
                lambda: source.refused >= 2 or receiver.count(),
                what="delivery to ask the registry again (or to send)",
            )
            assert receiver.count() == 0 and waiting() == 1.0
            source.down = False
            [outcome] = wait_until(fresh_outcome, what="the second action's outcome")
    assert (outcome.outcome, outcome.attempt) == ("sent", 1)
    assert receiver.count() == 1, "the action done elsewhere was not sent again"
    assert waiting() == 0.0


def test_a_frame_of_another_subject_is_no_action(
    kafka: KafkaSettings, registered: SchemaRegistrySettings
) -> None:
    """A Confluent frame whose id names another subject (an outcome on the action topic) is
    refused by the action decoder with WrongSubjectError: a SchemaError, dead-lettered."""
    codecs = registry_codecs(registered, topic_prefix=kafka.topic_prefix)
    outcome = codecs.outcome.encode(
        DeliveryOutcome(
            action_id="a",
            candidate_id="c",
            campaign_id="x",
            channel="webhook",
            outcome="sent",
            attempt=1,
            occurred_at=T0,
        ).to_avro()
    )
    with pytest.raises(WrongSubjectError):
        codecs.decode_action(outcome)


# --- start-up --------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nurture(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "nurture"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_SCHEMA_REGISTRY_")}
    return subprocess.run(
        [str(script), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return " ".join(lines[0].split())


GATEWAY_ENV = {"NURTURE_GATEWAY_API_KEYS": "ats=ats-key-0123456789abcdef"}


@pytest.mark.parametrize(
    ("args", "env"),
    [(("deliver", "--channel", "webhook"), {}), (("gateway",), GATEWAY_ENV)],
    ids=["deliver", "gateway"],
)
def test_a_registry_down_at_start_stops_the_process_in_one_line(
    kafka: KafkaSettings, args: tuple[str, ...], env: dict[str, str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/apis/ccompat/v7"
    done = _nurture(
        {**env, "NURTURE_SCHEMA_REGISTRY_URL": url, "NURTURE_SCHEMA_REGISTRY_TIMEOUT_S": "2"},
        "--topic-prefix",
        kafka.topic_prefix,
        *args,
    )
    line = _one_line(done)
    assert done.returncode == 1, done.stderr
    assert line.startswith(f"error: schema registry at {url} is unavailable"), line


@pytest.mark.parametrize(
    ("args", "env", "subject"),
    [
        (("deliver", "--channel", "webhook"), {}, "nurture.delivery-value"),
        (("gateway",), GATEWAY_ENV, "candidate.activity-value"),
    ],
    ids=["deliver", "gateway"],
)
def test_a_schema_not_registered_stops_the_process_in_one_line(
    kafka: KafkaSettings,
    registry_url: str,
    args: tuple[str, ...],
    env: dict[str, str],
    subject: str,
) -> None:
    """Nothing registered under the test's prefix: the writer's subject is named."""
    done = _nurture(
        {**env, "NURTURE_SCHEMA_REGISTRY_URL": registry_url},
        "--topic-prefix",
        kafka.topic_prefix,
        *args,
    )
    line = _one_line(done)
    assert done.returncode == 2, done.stderr
    assert f"{kafka.topic_prefix}{subject}" in line and "nurture schemas register" in line, line
