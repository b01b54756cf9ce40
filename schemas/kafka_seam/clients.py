"""The one factory of Kafka clients: kafka-python and aiokafka, configured from
:class:`~schemas.settings.KafkaSettings`.

Every client of the project is built here, so the connection and security settings (bootstrap
list, SASL, TLS) are put together once and the same way for both libraries. The exception is
faust's own consumer and producer: faust takes its credentials in a form of its own
(``faust.SASLCredentials``), built from the same :class:`KafkaSettings` by
:func:`streams.worker.kafka_config.faust_broker_options` (faust may not be imported in
schemas). What is particular to one client (group, timeouts, client id, acks, compression) is
passed as keyword options, as the library spells them; the component that owns those
settings decides them (e.g. :meth:`producers.settings.ProducerSettings.kafka_python_config`).

* :func:`consumer`, :func:`producer`, :func:`admin`: kafka-python clients
* :func:`aio_producer`, :func:`aio_consumer`: aiokafka clients
* :func:`kafka_python_options`, :func:`aiokafka_options`: the shared keyword arguments (the
  factory functions above start from them; :func:`checked` validates them at start-up)
* :func:`checked`: the same, with unusable TLS settings raised as
  :class:`~schemas.errors.ConfigError` (for start-up checks)
* :data:`AIOKAFKA_CODECS`: which compression codecs aiokafka can write here
* :func:`explained`: connection failures raised as KafkaUnavailableError with the cause in words

The clients are returned as they are: their constructors raise the library's errors, which
callers translate where they know what the failure means.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from schemas.errors import ConfigError
from schemas.kafka_seam.connection_errors import connection_failures, unavailable
from schemas.settings import KafkaSettings

# aiokafka is imported only where an aiokafka client is built: the SDK, the delivery consumer
# and the CLI use kafka-python alone and do not pay for loading it (about 80 ms).


def _aiokafka_has(codec: str) -> Callable[[], bool]:
    def check() -> bool:
        from aiokafka import codec as aiokafka_codec  # noqa: PLC0415

        available: bool = getattr(aiokafka_codec, f"has_{codec}")()
        return available

    return check


#: Codec checks of aiokafka (its own libraries, which may differ from kafka-python's).
AIOKAFKA_CODECS: dict[str, Callable[[], bool]] = {
    codec: _aiokafka_has(codec) for codec in ("gzip", "snappy", "lz4", "zstd")
}


def _security(kafka: KafkaSettings) -> dict[str, Any]:
    """Protocol, SASL and TLS keyword arguments (spelled alike by kafka-python and aiokafka)."""
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.uses_sasl:
        options["sasl_mechanism"] = kafka.sasl_mechanism or "SCRAM-SHA-512"
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        )
    if kafka.uses_tls:
        options["ssl_context"] = kafka.ssl_context()
    return options


def kafka_python_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for every kafka-python client (producer, consumer, admin)."""
    return {"bootstrap_servers": kafka.bootstrap_list, **_security(kafka)}


def aiokafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client built here (not faust's: see above)."""
    return {"bootstrap_servers": kafka.bootstrap_servers, **_security(kafka)}


def checked(
    build: Callable[[KafkaSettings], dict[str, Any]], kafka: KafkaSettings
) -> dict[str, Any]:
    """``build(kafka)`` (one of the two above), with unusable TLS settings (a missing file, a
    wrong key password) raised as :class:`ConfigError` so a process stops at start-up."""
    try:
        return build(kafka)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"invalid Kafka TLS settings: {exc}") from exc


def consumer(kafka: KafkaSettings, *topics: str, **options: Any) -> Any:
    """A kafka-python ``KafkaConsumer`` (subscribed to ``topics`` when given)."""
    return KafkaConsumer(*topics, **kafka_python_options(kafka), **options)


def producer(kafka: KafkaSettings, **options: Any) -> Any:
    """A kafka-python ``KafkaProducer``."""
    return KafkaProducer(**kafka_python_options(kafka), **options)


def admin(kafka: KafkaSettings, **options: Any) -> Any:
    """A kafka-python ``KafkaAdminClient``."""
    return KafkaAdminClient(**kafka_python_options(kafka), **options)


def aio_producer(kafka: KafkaSettings, **options: Any) -> Any:
    """An aiokafka ``AIOKafkaProducer`` (not started)."""
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    return AIOKafkaProducer(**aiokafka_options(kafka), **options)


def aio_consumer(kafka: KafkaSettings, *topics: str, **options: Any) -> Any:
    """An aiokafka ``AIOKafkaConsumer`` (not started), subscribed to ``topics`` when given."""
    from aiokafka import AIOKafkaConsumer  # noqa: PLC0415

    return AIOKafkaConsumer(*topics, **aiokafka_options(kafka), **options)


@contextmanager
def explained(kafka: KafkaSettings) -> Iterator[None]:
    """Raise a ``KafkaError`` of the block (a client that did not connect) as
    :class:`~schemas.errors.KafkaUnavailableError`, or its subclass
    :class:`~schemas.errors.KafkaAuthenticationError` when a refused login or TLS handshake
    explains it."""
    try:
        with connection_failures() as failures:
            yield
    except KafkaError as exc:
        message = f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}"
        raise unavailable(message, failures, kafka) from exc
