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
callers translate where they know what the failure means. One exception: a kafka-python client
whose SASL login Kafka refuses raises :class:`~schemas.errors.KafkaAuthenticationError` at the
first refusal (see :func:`_unless_login_refused`), not a timeout at the end of its bootstrap.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from schemas.errors import ConfigError, KafkaAuthenticationError
from schemas.kafka_seam.connection_errors import (
    ConnectFailures,
    connection_failures,
    explain,
    unavailable,
)
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
    return _unless_login_refused(
        lambda: KafkaConsumer(*topics, **kafka_python_options(kafka), **options), kafka
    )


def producer(kafka: KafkaSettings, **options: Any) -> Any:
    """A kafka-python ``KafkaProducer``."""
    return _unless_login_refused(
        lambda: KafkaProducer(**kafka_python_options(kafka), **options), kafka
    )


def admin(kafka: KafkaSettings, **options: Any) -> Any:
    """A kafka-python ``KafkaAdminClient``."""
    return _unless_login_refused(
        lambda: KafkaAdminClient(**kafka_python_options(kafka), **options), kafka
    )


class _Construction:
    """A kafka-python constructor running on a helper thread, which the caller may abandon."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._abandoned = False
        self.client: Any = None
        self.error: BaseException | None = None
        #: set when the constructor returned or raised (and by whoever else wakes the caller)
        self.settled = threading.Event()

    def run(self) -> None:
        try:
            client = self._build()
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
        else:
            with self._lock:
                keep = not self._abandoned
                if keep:
                    self.client = client
            if not keep:
                client.close()  # connected after all, but the caller has given up on it
        finally:
            self.settled.set()

    def abandon(self) -> bool:
        """Give up on the client unless it is already built; True when given up."""
        with self._lock:
            self._abandoned = self.client is None and self.error is None
            return self._abandoned


#: Connections closed by the broker right after TLS and ApiVersions that count as a refused
#: login (kafka-python often loses the refusal itself: see connection_errors). Two, not one: a
#: single close could also be a broker going down; the refusal repeats on every attempt.
LOGIN_CLOSES_READ_AS_REFUSAL = 2


def login_refused(failures: ConnectFailures) -> bool:
    """True when the failures of a SASL client show Kafka refusing its login for sure."""
    return (
        failures.login_refused or failures.closed_after_api_versions >= LOGIN_CLOSES_READ_AS_REFUSAL
    )


def _unless_login_refused(build: Callable[[], Any], kafka: KafkaSettings) -> Any:
    """``build()`` (a kafka-python constructor, which bootstraps), except that when Kafka
    refuses the SASL login the caller gets :class:`KafkaAuthenticationError` at once.

    kafka-python 3.0.12 retries a refused login until its bootstrap deadline (30 s by default,
    ``max_block_ms`` for the SDK): its connection manager means to stop at one (it raises a
    login failure it has recorded) but never records it, because the connection closes with
    the error instead of raising it. A wrong password is not cured by waiting, so the
    constructor runs on a helper thread and the caller returns as soon as
    :func:`login_refused`. The abandoned constructor retries on to its deadline in the
    background, and a client it still returns is closed. Clients without SASL are built on
    the caller's thread as they always were.
    """
    if not kafka.uses_sasl:
        return build()
    construction = _Construction(build)

    def wake_if_refused(failures: ConnectFailures) -> None:
        if login_refused(failures):
            construction.settled.set()

    with connection_failures(on_failure=wake_if_refused) as failures:
        threading.Thread(target=construction.run, name="nurture-kafka-connect", daemon=True).start()
        construction.settled.wait()
        refused = construction.abandon()
    if refused:
        raise KafkaAuthenticationError(explain(failures, kafka) or "Kafka refused the login")
    if construction.error is not None:
        raise construction.error
    return construction.client


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
