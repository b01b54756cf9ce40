"""Kafka unreachable: 503 with Retry-After, nothing published, readiness down, liveness up."""

from __future__ import annotations

import socket

import pytest

from producers.settings import ProducerSettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from tests.test_gateway_support import auth, event, records_on, running_gateway

pytestmark = pytest.mark.kafka


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("producer", ["aiokafka", "kafka-python"])
def test_kafka_unreachable_is_503_with_retry_after_and_nothing_published(
    kafka: KafkaSettings, producer: str
) -> None:
    dead = kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_dead_port()}"})
    quick = ProducerSettings(max_block_ms=1000, request_timeout_ms=1000, delivery_timeout_s=3)
    batch = {"events": [event(), event(), event(candidate_id="")]}
    with running_gateway(
        dead,
        wait_ready=False,
        producer_settings=quick,
        retry_after_s=7,
        readiness_timeout_s=0.5,
        producer=producer,
    ) as client:
        response = client.post("/v1/events", json=batch, headers=auth())
        profile = client.put(
            "/v1/candidates/c1/profile",
            json={"contact": {"email": "a@example.com"}},
            headers=auth(),
        )
        erasure = client.delete("/v1/candidates/c1", headers=auth())
        ready = client.get("/readyz")
        alive = client.get("/healthz")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["unavailable", "unavailable", "rejected"]
    assert (body["accepted"], body["unavailable"]) == (0, 2)
    for refused in (profile, erasure):
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "7"
        assert refused.json()["error"] == "kafka_unavailable"
    assert ready.status_code == 503 and ready.headers["retry-after"] == "7"
    assert alive.status_code == 200
    # The same prefix on the real broker: nothing arrived there either.
    assert records_on(kafka, ACTIVITY) == []
    assert records_on(kafka, PROFILE) == []
