"""Fixtures for tests against the real local Kafka broker.

The broker at ``NURTURE_BOOTSTRAP_SERVERS`` (default 127.0.0.1:9092) is used when it answers;
otherwise this session starts the local broker (``nurture broker start``) and stops it at the end.
Each test that needs topics gets its own uuid prefix, so tests never see each other's records.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy import topics as topic_admin
from deploy.broker.process import LocalBroker, answers_metadata
from deploy.broker.settings import BrokerSettings
from schemas.settings import KafkaSettings
from tests.kafka_helpers import unique


@pytest.fixture(scope="session")
def kafka_base() -> Iterator[KafkaSettings]:
    """Settings of a reachable real broker for the whole test session."""
    settings = KafkaSettings(topic_partitions=3)
    if answers_metadata(settings, timeout_s=3.0):
        yield settings
        return
    broker = LocalBroker(BrokerSettings())
    _, started = broker.start()
    try:
        yield settings
    finally:
        if started:
            broker.stop()


@pytest.fixture
def kafka(kafka_base: KafkaSettings) -> KafkaSettings:
    """Settings with a fresh topic prefix and every declared topic created under it."""
    settings = kafka_base.model_copy(update={"topic_prefix": unique("test") + "."})
    report = topic_admin.create_all(settings)
    assert report.ok, report.conflicts
    return settings
