"""Why a kafka-python client could not connect, in words a person can act on.

kafka-python retries a refused login or a failed TLS handshake until its bootstrap deadline and
then raises a bare ``KafkaTimeoutError: Unable to bootstrap``; the real cause is only logged, by
its network thread, with the exception (and the connection) as log arguments.
:func:`connection_failures` collects them while a client connects, by type, never by parsing
text, and :func:`explain` turns them into a sentence. Passwords are never part of it.

kafka-python 3.0.12 often loses the broker's SASL error response: the broker sends it together
with closing the socket, and the client drops bytes read in the same pass as the end of the
stream ("socket disconnected"). A SASL connection that completed TLS and the ApiVersions
exchange and was then closed by the broker is therefore read as a refused login as well.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from kafka.errors import KafkaConnectionError, SaslAuthenticationFailedError
from kafka.net.connection import KafkaConnection

from schemas.errors import KafkaAuthenticationError, KafkaUnavailableError
from schemas.settings import KafkaSettings

_KAFKA_LOGGER = "kafka"


@dataclass
class ConnectFailures:
    """What kafka-python reported while connecting."""

    errors: list[BaseException] = field(default_factory=list)
    #: connections the broker closed after TLS and ApiVersions succeeded (the SASL or first
    #: request stage): a refused login for SASL clients, a missing login for the others
    closed_after_api_versions: int = 0

    @property
    def login_refused(self) -> bool:
        return any(isinstance(e, SaslAuthenticationFailedError) for e in self.errors)

    @property
    def tls_error(self) -> ssl.SSLError | None:
        for error in self.errors:
            cause = error.__cause__ or error.__context__
            if isinstance(error, ssl.SSLError):
                return error
            if isinstance(error, KafkaConnectionError) and isinstance(cause, ssl.SSLError):
                return cause
        return None


class _Collector(logging.Handler):
    def __init__(self, failures: ConnectFailures) -> None:
        super().__init__(logging.ERROR)  # kafka-python logs these causes as errors
        self.failures = failures

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        errors = [arg for arg in args if isinstance(arg, BaseException)]
        self.failures.errors.extend(errors)
        for arg in args:
            if (
                isinstance(arg, KafkaConnection)
                and arg.broker_version_data is not None
                and any(isinstance(e, KafkaConnectionError) for e in errors)
            ):
                self.failures.closed_after_api_versions += 1


@contextmanager
def connection_failures() -> Iterator[ConnectFailures]:
    """Collect what kafka-python logs while the block runs (its connection attempts)."""
    logger = logging.getLogger(_KAFKA_LOGGER)
    failures = ConnectFailures()
    collector = _Collector(failures)
    previous_level = logger.level
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    logger.addHandler(collector)
    try:
        yield failures
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous_level)


def explain(failures: ConnectFailures, settings: KafkaSettings) -> str | None:
    """A sentence naming why ``settings`` could not connect, or None when nothing tells."""
    servers = settings.bootstrap_servers
    login_closed = settings.uses_sasl and failures.closed_after_api_versions > 0
    if failures.login_refused or login_closed:
        return (
            f"Kafka at {servers} refused the login of SASL user {settings.sasl_username!r} "
            f"({settings.sasl_mechanism or 'SCRAM-SHA-512'}): wrong user name or password "
            "(NURTURE_SASL_USERNAME, NURTURE_SASL_PASSWORD)"
        )
    tls = failures.tls_error
    if tls is not None:
        why = getattr(tls, "reason", None) or tls  # OpenSSL's short reason when it gave one
        return (
            f"the TLS handshake with Kafka at {servers} failed: {why} "
            "(check NURTURE_SSL_CAFILE and that the broker's port speaks TLS)"
        )
    if failures.closed_after_api_versions:
        return (
            f"Kafka at {servers} closed the connection before any request: the listener "
            "probably requires a SASL login (NURTURE_SECURITY_PROTOCOL=SASL_SSL, NURTURE_SASL_*)"
        )
    if failures.errors and settings.security_protocol == "PLAINTEXT":
        return (
            f"Kafka at {servers} closed plaintext connections; if this cluster needs TLS or "
            "SASL, set NURTURE_SECURITY_PROTOCOL (and the NURTURE_SASL_* / NURTURE_SSL_* settings)"
        )
    return None


def unavailable(
    message: str, failures: ConnectFailures, settings: KafkaSettings
) -> KafkaUnavailableError:
    """The error to raise when a client did not connect: :class:`KafkaAuthenticationError` (not
    retriable) when a refused login or TLS handshake explains it, else ``message`` as is."""
    reason = explain(failures, settings)
    if reason is None:
        return KafkaUnavailableError(message)
    if failures.login_refused or failures.tls_error or failures.closed_after_api_versions:
        return KafkaAuthenticationError(reason)
    return KafkaUnavailableError(f"{message}; {reason}")
