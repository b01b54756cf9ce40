"""The e-mail sender: channels ``email`` and ``career_event_invite``, over SMTP or to an outbox.

Each message is ``multipart/alternative`` (plain text and HTML), with ``Message-ID`` derived
from the ``action_id``, RFC 8058 one-click unsubscribe headers, and tracked links carrying
signed, expiring tokens (:mod:`schemas.tracking_tokens`). Without ``smtp_host`` the message is
written to a local Maildir instead, so nothing reaches real people by accident.

SMTP answers to a message: 4xx is retriable, 5xx permanent. A failure *before* the message
went out (connect, TLS, login, even a 5xx there) is retriable, since nothing was delivered and
the action is not at fault; a connection lost *during*
the data phase is :class:`OutcomeUnknownError`: the server may have accepted it, so the action
is recorded ``failed/unknown`` and never sent again. E-mail is never resent after a crash.
Messages share one SMTP connection (:mod:`consumers.smtp_connection`).
"""

from __future__ import annotations

import mailbox
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

from consumers.email_render import EmailRenderer, Links
from consumers.errors import PermanentDeliveryError, RetriableDeliveryError
from consumers.settings import DeliverySettings
from consumers.smtp_connection import SmtpConnection
from schemas.consent import CONSENT_CHANNEL
from schemas.models import CandidateProfile, NurtureAction
from schemas.tracking_secret import tracking_secret
from schemas.tracking_tokens import Purpose, make_token

DAY_S = 86_400


class EmailSender:
    """Renders and sends one message per action, over one kept SMTP connection."""

    resend_when_unknown = False

    def __init__(self, settings: DeliverySettings) -> None:
        self._settings = settings
        self._renderer = EmailRenderer(settings.email.templates_dir)
        self._secret = tracking_secret(settings.tracking.secret, settings.tracking.secret_file)
        self._connection: SmtpConnection | None = None

    def _token(self, purpose: Purpose, action: NurtureAction, **extra: str) -> str:
        claims = {"a": action.action_id, "c": action.candidate_id, **extra}
        if action.campaign_id:
            claims["k"] = action.campaign_id
        days = (
            self._settings.tracking.unsubscribe_ttl_days
            if purpose == "unsubscribe"
            else self._settings.tracking.token_ttl_days
        )
        ttl_s = days * DAY_S
        return make_token(self._secret, purpose, claims, ttl_s=ttl_s)

    def _unsubscribe_token(self, action: NurtureAction) -> str:
        # The consent this e-mail was sent under is the one an unsubscribe withdraws.
        channel = CONSENT_CHANNEL.get(action.channel) or "email"
        return self._token("unsubscribe", action, ch=channel)

    def links(self, action: NurtureAction) -> Links:
        base = self._settings.tracking.gateway_url.rstrip("/")
        return Links(
            unsubscribe_url=f"{base}/t/unsubscribe/{self._unsubscribe_token(action)}",
            open_pixel_url=f"{base}/t/open/{self._token('open', action)}.gif",
            click_urls={
                item.content_id: f"{base}/t/click/"
                + self._token("click", action, u=item.url, i=item.content_id)
                for item in action.content
            },
        )

    def message(self, action: NurtureAction, profile: CandidateProfile) -> EmailMessage:
        """The complete message of ``action`` for ``profile`` (PermanentDeliveryError if not)."""
        if profile.contact.email is None:
            raise PermanentDeliveryError("no_email", "profile has no e-mail address")
        links = self.links(action)
        rendered = self._renderer.render(action, profile, links)
        message = EmailMessage()
        message["From"] = self._settings.email.mail_from
        message["To"] = profile.contact.email
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{action.action_id}@candidate-nurture>"
        mailto = self._settings.tracking.unsubscribe_mailto
        subject = quote(f"unsubscribe {self._unsubscribe_token(action)}")
        message["List-Unsubscribe"] = (
            f"<mailto:{mailto}?subject={subject}>, <{links.unsubscribe_url}>"
        )
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["X-Nurture-Action-Id"] = action.action_id
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    def send(self, action: NurtureAction, profile: CandidateProfile, attempt: int) -> str:
        message = self.message(action, profile)
        if self._settings.smtp.host is None:
            outbox = mailbox.Maildir(self._settings.outbox, create=True)
            key = outbox.add(message)
            return f"outbox {key}"
        return self._smtp(message, self._settings.smtp.host)

    def close(self) -> None:
        """Close the kept SMTP connection (QUIT)."""
        if self._connection is not None:
            self._connection.close()

    def _smtp(self, message: EmailMessage, host: str) -> str:
        if self._connection is None:
            self._connection = SmtpConnection(self._settings, host)
        try:
            refused = self._connection.send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes) if codes else 550, "smtp_refused") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, "smtp_rejected") from exc
        return f"smtp 250 refused={len(refused)}"


def _by_code(code: int, reason: str) -> RetriableDeliveryError | PermanentDeliveryError:
    detail = f"smtp {code}"
    if 400 <= code < 500:
        return RetriableDeliveryError(reason, detail)
    return PermanentDeliveryError(reason, detail)
