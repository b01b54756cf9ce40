"""The SDK never drops a record silently: unreachable brokers and refusals become typed errors."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from producers import (
    DeliveryRejectedError,
    NurtureProducer,
    ProducerSettings,
    PublishTimeoutError,
    RecordMetadata,
)
from producers.client import ack_deadline_s
from producers.producer import REAP_EVERY
from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from tests.kafka_helpers import read_all, wait_until
from tests.test_producers_sdk import page_view

SHORT = ProducerSettings(
    linger_ms=1, max_block_ms=1500, request_timeout_ms=1000, delivery_timeout_s=3
)


def free_port() -> int:
    """A local port nothing listens on (bound and released by the OS just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_broker_raises_retriable_error_within_max_block() -> None:
    nowhere = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(KafkaUnavailableError) as caught:
        NurtureProducer(nowhere, SHORT)
    elapsed = time.monotonic() - started
    assert caught.value.retriable
    assert nowhere.bootstrap_servers in str(caught.value)
    assert 1.0 <= elapsed < SHORT.max_block_ms / 1000 + 3


@pytest.mark.kafka
def test_missing_topic_times_out_as_kafka_unavailable(kafka: KafkaSettings) -> None:
    missing = kafka.topic(f"no-such-topic-{uuid.uuid4().hex[:6]}")
    with NurtureProducer(kafka, SHORT) as sdk:
        key, value = sdk.encode_event(page_view())
        started = time.monotonic()
        with pytest.raises(PublishTimeoutError) as caught:
            sdk.send_encoded(missing, key, value)
        assert time.monotonic() - started < SHORT.max_block_ms / 1000 + 3
    assert caught.value.retriable
    assert caught.value.topic == missing


@pytest.mark.kafka
def test_refused_record_fails_its_delivery_and_the_flush(kafka: KafkaSettings) -> None:
    topic = kafka.topic(ACTIVITY)
    admin = clients.admin(kafka)
    try:  # the topic now accepts no batch as large as one event
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": "64"})]
        )
    finally:
        admin.close()
    sdk = NurtureProducer(kafka, SHORT)
    try:
        ignored = sdk.send(page_view("cand-too-big"))
        with pytest.raises(DeliveryRejectedError) as caught:
            sdk.flush(timeout=10)  # the caller never looked at the delivery: flush still tells
        assert caught.value.topic == topic
        assert caught.value.event_id == ignored.event_id
        assert not caught.value.retriable
        with pytest.raises(DeliveryRejectedError):
            ignored.get(timeout=1)
        sdk.flush(timeout=10)  # reported once: the next flush is clean
    finally:
        sdk.close(timeout=5)
    assert read_all(kafka, topic) == []


@pytest.mark.kafka
def test_topic_lost_mid_stream_fails_in_time_and_the_producer_recovers(
    kafka: KafkaSettings,
) -> None:
    topic = kafka.topic(ACTIVITY)
    admin = clients.admin(kafka)
    sdk = NurtureProducer(kafka, SHORT)
    try:
        sdk.send(page_view("cand-before")).get(timeout=10)
        admin.delete_topics([topic])
        wait_until(lambda: topic not in admin.list_topics(), what=f"{topic} deleted")

        started = time.monotonic()
        with pytest.raises(KafkaUnavailableError) as caught:
            for n in range(50):  # sends may fail at once (metadata) or later (acks): both count
                sdk.send(page_view(f"cand-lost-{n}"))
            sdk.flush()  # bounded by the delivery deadline even if kafka-python wedges
        assert caught.value.retriable
        assert time.monotonic() - started < ack_deadline_s(SHORT) + SHORT.max_block_ms / 1000 + 3

        wait_until(lambda: _recreate(admin, topic), what=f"{topic} recreated")
        meta = wait_until(lambda: _send_once(sdk), timeout_s=30, what="a send after recovery")
        assert meta.topic == topic
    finally:
        admin.close()
        with contextlib.suppress(KafkaUnavailableError):
            sdk.close(timeout=5)
    # Records reported as failed were not *provably* written; some may still land (at least
    # once), which is why retries keep the event_id. Nothing else may appear.
    keys = {r.key for r in read_all(kafka, topic)}
    assert b"cand-back" in keys
    assert keys <= {b"cand-back"} | {f"cand-lost-{n}".encode() for n in range(50)}


def _recreate(admin: KafkaAdminClient, topic: str) -> bool:
    with contextlib.suppress(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(topic, 3, 1)])
    return topic in admin.list_topics()


def _send_once(sdk: NurtureProducer) -> RecordMetadata | None:
    try:
        return sdk.send(page_view("cand-back")).get(timeout=5)
    except KafkaUnavailableError:
        return None


@pytest.mark.kafka
def test_tracking_of_sends_stays_bounded_for_a_caller_that_never_flushes(
    kafka: KafkaSettings,
) -> None:
    """send() registers no errback per record: finished sends are checked in bulk (see
    test_producers_reaping.py for the failure counting). A caller that waits on its deliveries
    but never flushes must not make the producer hold every delivery it ever made."""
    with NurtureProducer(kafka, SHORT) as sdk:
        for chunk in range(8):
            deliveries = [sdk.send(page_view(f"cand-ok-{chunk}-{n}")) for n in range(REAP_EVERY)]
            for delivery in deliveries:
                delivery.get(timeout=10)
        assert len(sdk._unreaped) <= 2 * REAP_EVERY  # not all 8k: finished ones were dropped
        sdk.flush(timeout=10)
        assert not sdk._unreaped
