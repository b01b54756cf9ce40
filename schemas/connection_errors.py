"""Why a kafka-python client could not connect, in words a person can act on.

kafka-python retries a refused login or a failed TLS handshake until its bootstrap deadline and
then raises a bare ``KafkaTimeoutError: Unable to bootstrap``; the real cause is only logged, by
its network thread, with the exception as a log argument. :func:`connection_failures` collects
those exceptions (by type, never by parsing text) while a client connects, and :func:`explain`
turns the most telling one into a sentence. Passwords are never part of it: the broker's SCRAM
error names only the mechanism.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.errors import KafkaConnectionError, SaslAuthenticationFailedError

from schemas.errors import KafkaAuthenticationError, KafkaUnavailableError
from schemas.settings import KafkaSettings

_KAFKA_LOGGER = "kafka"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failures: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.failures.extend(arg for arg in args if isinstance(arg, BaseException))


@contextmanager
def connection_failures() -> Iterator[list[BaseException]]:
    """Collect the exceptions kafka-python logs while the block runs (its connect attempts)."""
    logger = logging.getLogger(_KAFKA_LOGGER)
    collector = _Collector()
    previous_level = logger.level
    if logger.getEffectiveLevel() > logging.ERROR:  # kafka-python logs these causes as errors
        logger.setLevel(logging.ERROR)
    logger.addHandler(collector)
    try:
        yield collector.failures
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous_level)


def _tls_error(failure: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a kafka-python 'Handshake failed' connection error, if any."""
    cause = failure.__cause__ or failure.__context__
    if isinstance(failure, ssl.SSLError):
        return failure
    if isinstance(failure, KafkaConnectionError) and isinstance(cause, ssl.SSLError):
        return cause
    return None


def explain(failures: list[BaseException], settings: KafkaSettings) -> str | None:
    """A sentence naming why ``settings`` could not connect, or None when nothing tells."""
    servers = settings.bootstrap_servers
    for failure in failures:
        if isinstance(failure, SaslAuthenticationFailedError):
            return (
                f"Kafka at {servers} refused the login of SASL user "
                f"{settings.sasl_username!r} ({settings.sasl_mechanism or 'SCRAM-SHA-512'}): "
                "wrong user name or password (NURTURE_SASL_USERNAME, NURTURE_SASL_PASSWORD)"
            )
    for failure in failures:
        tls = _tls_error(failure)
        if tls is not None:
            return (
                f"the TLS handshake with Kafka at {servers} failed: {tls.reason or tls} "
                "(check NURTURE_SSL_CAFILE and that the broker's port speaks TLS)"
            )
    if failures and settings.security_protocol == "PLAINTEXT":
        return (
            f"Kafka at {servers} closed plaintext connections; if this cluster needs TLS or "
            "SASL, set NURTURE_SECURITY_PROTOCOL (and the NURTURE_SASL_* / NURTURE_SSL_* settings)"
        )
    return None


def unavailable(
    message: str, failures: list[BaseException], settings: KafkaSettings
) -> KafkaUnavailableError:
    """The error to raise when a client did not connect: :class:`KafkaAuthenticationError` (not
    retriable) when a refused login or TLS handshake explains it, else ``message`` as is."""
    reason = explain(failures, settings)
    if reason is None:
        return KafkaUnavailableError(message)
    if any(isinstance(f, SaslAuthenticationFailedError) or _tls_error(f) for f in failures):
        return KafkaAuthenticationError(reason)
    return KafkaUnavailableError(f"{message}; {reason}")
