"""The gateway's Kafka client settings, built once when the app is created.

Bad settings must stop ``nurture gateway`` at start-up with a :class:`ConfigError` (exit 1, one
line), not kill the background connector later, where nobody would see it: a TLS file that does
not exist, a compression codec the chosen client cannot write.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import codec as aiokafka_codec

from producers.settings import ProducerSettings
from schemas.errors import ConfigError
from schemas.settings import KafkaSettings

#: Codec checks of aiokafka (its own libraries, which may differ from kafka-python's).
AIOKAFKA_CODECS = {
    "gzip": aiokafka_codec.has_gzip,
    "snappy": aiokafka_codec.has_snappy,
    "lz4": aiokafka_codec.has_lz4,
    "zstd": aiokafka_codec.has_zstd,
}


def kafka_python_connection(kafka: KafkaSettings) -> dict[str, Any]:
    """``kafka.kafka_python_config()``, with unusable TLS settings raised as ConfigError."""
    return _built(kafka.kafka_python_config)


def aiokafka_connection(kafka: KafkaSettings) -> dict[str, Any]:
    """``kafka.aiokafka_config()`` (connection and security), unusable TLS as ConfigError."""
    return _built(kafka.aiokafka_config)


def aiokafka_producer_config(
    kafka: KafkaSettings, settings: ProducerSettings, partitioner: Any
) -> dict[str, Any]:
    """Keyword arguments of the gateway's ``AIOKafkaProducer``; ConfigError when unusable."""
    try:
        compression = settings.compression_type(AIOKAFKA_CODECS)
    except ValueError as exc:
        raise ConfigError(f"invalid producer settings for aiokafka: {exc}") from exc
    return {
        **_built(kafka.aiokafka_config),
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.linger_ms,
        "max_batch_size": settings.batch_size,
        "compression_type": compression,
        "request_timeout_ms": settings.request_timeout_ms,
        "partitioner": partitioner,
    }


def _built(build: Any) -> dict[str, Any]:
    try:
        config: dict[str, Any] = build()
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"invalid Kafka TLS settings: {exc}") from exc
    return config
