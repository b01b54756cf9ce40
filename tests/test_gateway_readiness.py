"""/readyz probes only the gateway's own topics, through the live producer (no extra client)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.protocol.metadata import MetadataRequest

from producers.gateway import aio_publisher
from producers.producer import NurtureProducer
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, KEYS, PROFILE
from tests.test_gateway_support import running_gateway

pytestmark = pytest.mark.kafka


class _NoThrowAwayClient:
    def __init__(self, *_: Any, **__: Any) -> None:
        raise AssertionError("the readiness probe built a throw-away consumer")


@pytest.mark.parametrize("producer", ["aiokafka", "kafka-python"])
def test_readyz_asks_the_live_producer_about_our_topics_only(
    kafka: KafkaSettings, producer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[str] | None] = []

    def recording_request(topics: list[str] | None = None, **options: Any) -> Any:
        asked.append(topics)
        return MetadataRequest(topics, **options)

    real_probe = NurtureProducer.answers_metadata

    def recording_probe(self: NurtureProducer, timeout_s: float) -> bool:
        asked.append(sorted(self._topics.values()))
        return real_probe(self, timeout_s)

    # kafka-python clients are built by the seam's factory: no throw-away consumer for a probe
    monkeypatch.setattr(clients, "consumer", _NoThrowAwayClient)
    monkeypatch.setattr(aio_publisher, "MetadataRequest", recording_request)
    monkeypatch.setattr(NurtureProducer, "answers_metadata", recording_probe)
    with running_gateway(kafka, producer=producer) as client:
        assert client.get("/readyz").status_code == 200
    # The topics the gateway writes (the SDK producer also tracks the data-key topic).
    ours = {kafka.topic(name) for name in (ACTIVITY, PROFILE, KEYS)}
    assert asked
    assert all(topics and {kafka.topic(ACTIVITY)} <= set(topics) <= ours for topics in asked)
