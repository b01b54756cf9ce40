"""One SMTP connection per e-mail sender, kept between messages and re-opened when it fails.

Opening a connection costs a TCP handshake, often TLS and AUTH: several round trips per
message. :class:`SmtpConnection` keeps one connection and sends every message over it. It is
closed (QUIT) and opened again when it was idle longer than ``smtp_idle_timeout_s`` (servers
drop idle clients, RFC 5321 suggests after 5 minutes) or carried ``smtp_max_messages``
messages (some servers limit messages per connection).

A kept connection may be dead without us knowing (the server timed it out, a NAT forgot it).
That shows when the next message is started: if it fails *before* the DATA command (while
sending MAIL FROM / RCPT TO, or the server answers 421 "closing"), nothing was handed over,
so the connection is opened afresh and the message sent once more on it. A failure *after*
DATA began is :class:`OutcomeUnknownError`: the server may have accepted the message, and an
e-mail is never sent twice.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage

from consumers.errors import OutcomeUnknownError, RetriableDeliveryError
from consumers.settings import DeliverySettings

Refused = dict[str, tuple[int, bytes]]


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers whether the DATA phase of the current message began."""

    data_started = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        self.data_started = True
        return super().data(msg)


class _SMTPS(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL that remembers whether the DATA phase of the current message began."""

    data_started = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        self.data_started = True
        return super().data(msg)


def must_reopen(*, idle_s: float, messages: int, idle_timeout_s: float, max_messages: int) -> bool:
    """Whether a kept connection should be closed before the next message (pure)."""
    return idle_s >= idle_timeout_s or messages >= max_messages


class SmtpConnection:
    """The sender's one SMTP connection to ``host`` (opened lazily; see module docstring)."""

    def __init__(
        self,
        settings: DeliverySettings,
        host: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._host = host
        self._clock = clock
        self._smtp: _SMTP | _SMTPS | None = None
        self._messages = 0
        self._last_used = 0.0
        #: Connections opened so far (a figure for tests and logs).
        self.opened = 0

    def send(self, message: EmailMessage) -> Refused:
        """Send ``message``; smtplib's answer exceptions (4xx/5xx to the message) pass through.

        Raises :class:`RetriableDeliveryError` when no connection can be opened (nothing was
        sent) and :class:`OutcomeUnknownError` when the connection broke during DATA.
        """
        self._expire()
        while True:
            reused = self._smtp is not None
            smtp = self._smtp or self._open()
            smtp.data_started = False
            try:
                refused = smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused:
                self._used()
                raise
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 and reused and not smtp.data_started:
                    self._drop()  # the server closed a kept connection: open a new one
                    continue
                self._used()
                raise
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                if smtp.data_started:
                    raise OutcomeUnknownError(
                        "unknown", f"connection lost: {type(exc).__name__}"
                    ) from exc
                if reused:
                    continue  # a kept connection had died: nothing was sent, open a new one
                raise RetriableDeliveryError("smtp_unavailable", type(exc).__name__) from exc
            self._used()
            return refused

    def close(self) -> None:
        """Say QUIT and close (also when the server is gone)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.sock is not None:  # a vanished peer must not hold us for a whole timeout
                smtp.sock.settimeout(min(5.0, self._settings.smtp.timeout_s))
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def _expire(self) -> None:
        if self._smtp is not None and must_reopen(
            idle_s=self._clock() - self._last_used,
            messages=self._messages,
            idle_timeout_s=self._settings.smtp.idle_timeout_s,
            max_messages=self._settings.smtp.max_messages,
        ):
            self.close()

    def _used(self) -> None:
        self._messages += 1
        self._last_used = self._clock()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _open(self) -> _SMTP | _SMTPS:
        """A new, logged-in connection; RetriableDeliveryError when that fails."""
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as exc:
            # Refused before any message (TLS, AUTH): a setup problem, not this action's;
            # retried until the horizon so a fixed password still delivers.
            raise RetriableDeliveryError("smtp_connect", f"smtp {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetriableDeliveryError("smtp_unavailable", type(exc).__name__) from exc
        self._smtp = smtp
        self._messages = 0
        self._last_used = self._clock()
        self.opened += 1
        return smtp

    def _connect(self) -> _SMTP | _SMTPS:
        settings = self._settings
        cafile = str(settings.smtp.cafile) if settings.smtp.cafile else None
        context = ssl.create_default_context(cafile=cafile)
        timeout = settings.smtp.timeout_s
        smtp: _SMTP | _SMTPS
        if settings.smtp.security == "tls":
            smtp = _SMTPS(self._host, settings.smtp.port, timeout=timeout, context=context)
        else:
            smtp = _SMTP(self._host, settings.smtp.port, timeout=timeout)
        try:
            if settings.smtp.security == "starttls":
                smtp.starttls(context=context)
            if settings.smtp.username:
                secret = settings.smtp.password
                smtp.login(settings.smtp.username, secret.get_secret_value() if secret else "")
        except BaseException:
            smtp.close()
            raise
        return smtp
