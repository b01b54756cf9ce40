"""Fixtures for tests against the real local Kafka broker.

The broker at ``NURTURE_BOOTSTRAP_SERVERS`` (default 127.0.0.1:9092) is used when it answers;
otherwise this session starts the local broker (``nurture broker start``) and stops it at the end.
Each test that needs topics gets its own uuid prefix, so tests never see each other's records.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.broker.process import LocalBroker, answers_metadata
from deploy.broker.settings import BrokerSettings
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from tests.kafka_helpers import ISSUED, unique


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the broker fixtures is a ``kafka`` test, marked or not, so that
    ``pytest -m "not kafka"`` (``.ci/newest``) never reaches for a broker."""
    for item in items:
        if {"kafka", "kafka_base"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_base() -> Iterator[KafkaSettings]:
    """Settings of a reachable real broker for the whole test session."""
    settings = KafkaSettings(topic_partitions=3)
    started = False
    broker = LocalBroker(BrokerSettings())
    if not answers_metadata(settings, timeout_s=3.0):
        _, started = broker.start()
    try:
        yield settings
    finally:
        if started:
            broker.stop()
        else:  # a shared broker: remove this session's topics, and only those
            _delete_session_topics(settings)


def _delete_session_topics(settings: KafkaSettings) -> None:
    """Delete topics under the prefixes this session handed out (other sessions may share it)."""
    prefixes = tuple(f"{name}." for name in ISSUED)
    if not prefixes:
        return
    with topic_admin.admin_client(settings) as admin:
        ours = [t for t in admin.list_topics() if t.startswith(prefixes)]
        if ours:
            admin.delete_topics(ours)


@pytest.fixture
def kafka(kafka_base: KafkaSettings) -> Iterator[KafkaSettings]:
    """Settings with a fresh topic prefix and every declared topic created under it.

    At teardown every topic with the prefix is deleted (also those a test or a faust app made),
    so a long test session does not pile up thousands of partitions on the one local broker.
    """
    settings = kafka_base.model_copy(update={"topic_prefix": unique("test") + "."})
    report = topic_admin.create_all(settings)
    assert report.ok, report.conflicts
    yield settings
    topic_admin.delete_prefixed(settings)
