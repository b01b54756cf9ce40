"""Shared helpers of the gateway tests (no tests here): keys, events, a started app, read-back."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from prometheus_client import CollectorRegistry

from producers.gateway.app import create_app
from producers.gateway.publisher import Publisher
from producers.gateway.settings import GatewaySettings
from producers.settings import ProducerSettings
from schemas.codec import Decoded, decode
from schemas.settings import KafkaSettings
from tests.kafka_helpers import read_all, wait_until

KEYS = {"career-site": "career-site-key-0123456789", "ats": "ats-key-0123456789abcdef"}


def auth(source: str = "career-site") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[source]}"}


def gateway_settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(api_keys=KEYS, **overrides)


def event(**overrides: Any) -> dict[str, Any]:
    """A valid page_viewed event in JSON form with a fresh event_id."""
    base: dict[str, Any] = {
        "event_id": f"evt-{uuid.uuid4().hex[:12]}",
        "type": "page_viewed",
        "candidate_id": "cand-1",
        "occurred_at": "2025-03-01T09:30:00Z",
        "payload": {"url": "https://careers.example.com/jobs/42", "page_type": "job"},
    }
    base.update(overrides)
    return base


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by a real uvicorn server on a free port (in a thread); yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        # A server that did not stop leaves the app's Kafka clients running into later tests
        # (their threads once broke Hypothesis tests through the global random module): fail
        # here, where it happened.
        assert not thread.is_alive(), "uvicorn did not shut down within 30 s"


@contextmanager
def running_gateway(
    kafka: KafkaSettings,
    *,
    registry: CollectorRegistry | None = None,
    publisher: Publisher | None = None,
    wait_ready: bool = True,
    producer_settings: ProducerSettings | None = None,
    **overrides: Any,
) -> Iterator[httpx.Client]:
    """The gateway app behind a real uvicorn server, and an httpx client for it."""
    app = create_app(
        gateway_settings(**overrides),
        kafka,
        registry or CollectorRegistry(),
        publisher=publisher,
        producer_settings=producer_settings,
    )
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        if wait_ready:
            wait_until(
                lambda: client.get("/readyz").status_code == 200, what="the gateway to be ready"
            )
        yield client


def records_on(kafka: KafkaSettings, topic: str) -> list[Any]:
    return read_all(kafka, kafka.topic(topic))


def decoded(kafka: KafkaSettings, topic: str) -> list[Decoded]:
    return [decode(record.value) for record in records_on(kafka, topic)]
