"""The kafka-python producer under the SDK: creating it with typed errors, and closing it for sure.

Why a forced close: kafka-python 3.0's idempotent producer can wedge. When a batch that was
already sent expires (the broker or topic went away mid-stream and ``delivery_timeout_s``
passed), it resets its producer id but never asks for a new one, so its I/O thread stops
sending *and* stops expiring the remaining batches: their futures never complete, ``flush()``
waits forever, and ``close()`` (which flushes first) raises and leaves the thread running.
The SDK therefore bounds every wait by :func:`ack_deadline_s` and, when records outlive it,
replaces the client and shuts the old one down with :func:`force_close`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from kafka.errors import KafkaError

from producers import kafka_python_seam
from producers.settings import ProducerSettings
from schemas.errors import ConfigError
from schemas.kafka_seam import clients
from schemas.kafka_seam.connection_errors import connection_failures, unavailable
from schemas.kafka_seam.partitioner import KafkaPythonPartitioner
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)


def connect(kafka: KafkaSettings, settings: ProducerSettings) -> Any:
    """A connected kafka-python ``KafkaProducer`` (bootstraps within ``max_block_ms``).

    Raises :class:`KafkaUnavailableError` (retriable) when no broker answers in time,
    :class:`KafkaAuthenticationError` (its subclass, not retriable) when Kafka refuses the
    credentials or the TLS handshake fails, and
    :class:`ConfigError` when Kafka or kafka-python refuse the settings.
    """
    config = {**settings.kafka_python_config(), "partitioner": KafkaPythonPartitioner()}
    servers = kafka.bootstrap_servers
    kafka_python_seam.check()
    try:
        with connection_failures() as failures:
            client = clients.producer(kafka, **config)
    except KafkaError as exc:
        if exc.retriable:
            raise unavailable(
                f"no Kafka broker at {servers} answered within {settings.max_block_ms} ms "
                f"({type(exc).__name__}: {exc})",
                failures,
                kafka,
            ) from exc
        raise ConfigError(f"Kafka at {servers} refused the producer: {exc}") from exc
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"invalid producer settings: {exc}") from exc
    log.info(
        "producer %s connected to %s (compression=%s)",
        settings.client_id,
        servers,
        config["compression_type"] or "none",
    )
    return client


def metadata_round_trip(client: Any, topics: Iterable[str], timeout_s: float) -> bool:
    """True when ``client`` (a connected ``KafkaProducer``) refreshed metadata within ``timeout_s``.

    Asks for ``topics`` only (the producer tracks them from now on), through the client's own
    connections: no throw-away client, and no metadata of every topic of a busy cluster.
    kafka-python has no public call for this: it goes through ``kafka_python_seam``.
    """
    answered = threading.Event()
    future = kafka_python_seam.request_metadata(client, list(topics))
    future.add_both(lambda *_: answered.set())
    return answered.wait(timeout_s) and bool(future.succeeded())


def ack_deadline_s(settings: ProducerSettings) -> float:
    """Longest a record can take to be acknowledged or failed by a healthy client, seconds."""
    return settings.delivery_timeout_s + settings.request_timeout_ms / 1000 + 1.0


def close(client: Any, timeout_s: float | None) -> None:
    """Close ``client`` within ``timeout_s``; force it when records are still pending."""
    try:
        client.close(timeout=timeout_s)
    except KafkaError:
        force_close(client, timeout_s or 5.0)


def force_close(client: Any, timeout_s: float = 5.0) -> None:
    """Stop ``client``'s I/O thread now; its pending records fail ("closed forcefully")."""
    kafka_python_seam.stop_io_thread(client, timeout_s)  # kafka-python has no public call
    try:
        client.close(timeout=0)  # nothing pending any more: releases metrics and atexit hook
    except KafkaError as exc:
        log.warning("kafka-python producer did not close cleanly: %s", type(exc).__name__)
