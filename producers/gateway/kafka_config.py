"""The gateway's Kafka client settings, checked once when the app is created.

Bad settings must stop ``nurture gateway`` at start-up with a :class:`ConfigError` (exit 1, one
line), not kill the background connector later, where nobody would see it: a TLS file that does
not exist, a compression codec the chosen client cannot write. The clients themselves come from
the seam's factory (:mod:`schemas.kafka_seam.clients`).
"""

from __future__ import annotations

from typing import Any

from producers.settings import ProducerSettings
from schemas.errors import ConfigError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings


def aiokafka_producer_config(
    kafka: KafkaSettings, settings: ProducerSettings, partitioner: Any
) -> dict[str, Any]:
    """Keyword arguments of the gateway's ``AIOKafkaProducer`` beyond the connection (which
    :func:`schemas.kafka_seam.clients.aio_producer` adds); ConfigError when unusable."""
    clients.checked(clients.aiokafka_options, kafka)
    try:
        compression = settings.compression_type(clients.AIOKAFKA_CODECS)
    except ValueError as exc:
        raise ConfigError(f"invalid producer settings for aiokafka: {exc}") from exc
    return {
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.linger_ms,
        "max_batch_size": settings.batch_size,
        "compression_type": compression,
        "request_timeout_ms": settings.request_timeout_ms,
        "partitioner": partitioner,
    }
