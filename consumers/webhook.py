"""The webhook sender: channels ``webhook``, ``ad_audience`` and ``recruiter_alert``.

Each action is POSTed as JSON to a named endpoint from the settings (``webhook``: the action's
``endpoint``; the other two: a fixed name per channel), signed (:mod:`consumers.webhook_signature`:
Standard Webhooks headers with ``webhook-id: <action_id>``, and the deprecated
``Nurture-Signature``) and with ``Idempotency-Key: <action_id>``, so a resend after a crash is
recognisable. Answers:

* 2xx: sent;
* 410: the endpoint is gone, remembered in the store and never called again (``endpoint_gone``);
* 429 (with ``Retry-After``), 5xx, timeouts, connection errors: retriable;
* any other 4xx: permanent (dead-letter at once).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from consumers.errors import EndpointGoneError, PermanentDeliveryError, RetriableDeliveryError
from consumers.settings import DeliverySettings
from consumers.store import DeliveryStore
from consumers.webhook_signature import signed_headers, standard_key
from schemas.errors import ConfigError
from schemas.models import CandidateProfile, NurtureAction
from schemas.tracking_secret import MIN_SECRET_CHARS, shared_secret

USER_AGENT = "candidate-nurture-delivery/1"


def endpoint_name(action: NurtureAction, settings: DeliverySettings) -> str:
    """The configured endpoint name an action goes to."""
    if action.channel == "ad_audience":
        return settings.webhook.ad_audience_endpoint
    if action.channel == "recruiter_alert":
        return settings.webhook.recruiter_alert_endpoint
    if action.endpoint is None:
        raise PermanentDeliveryError("no_endpoint", f"action {action.action_id} names none")
    return action.endpoint


def payload(action: NurtureAction, profile: CandidateProfile, attempt: int) -> dict[str, Any]:
    """The JSON body: the action, plus what the channel's receiver needs about the candidate."""
    body: dict[str, Any] = action.model_dump(
        mode="json", exclude={"replay", "model_version", "trigger_event_id"}
    )
    body["attempt"] = attempt
    if action.channel == "recruiter_alert":
        contact = profile.contact
        body["candidate"] = {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
        }
    elif action.channel == "ad_audience" and profile.contact.email:
        # Ad platforms match on the normalised, hashed address, never the address itself.
        normalised = profile.contact.email.strip().lower().encode()
        body["email_sha256"] = hashlib.sha256(normalised).hexdigest()
    return body


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value (delay seconds or an HTTP-date,
    RFC 9110 10.2.3), never negative; None when absent or unreadable (pure)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def webhook_secret(settings: DeliverySettings) -> str:
    """The signing key (variable, else its file, made on first use); ConfigError if weak, or
    if it is a ``whsec_`` Standard Webhooks secret whose base64 does not decode to at least
    :data:`MIN_SECRET_CHARS` bytes."""
    secret = shared_secret(
        settings.webhook.secret,
        settings.webhook.secret_file,
        variable="NURTURE_DELIVERY_WEBHOOK_SECRET",
        file_name="webhook-secret",
    )
    try:
        key = standard_key(secret)
    except ValueError as exc:
        raise ConfigError(
            f"the webhook secret (NURTURE_DELIVERY_WEBHOOK_SECRET[_FILE]) starts with whsec_ "
            f"but is not a Standard Webhooks secret: {exc}"
        ) from exc
    if len(key) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"the webhook secret (NURTURE_DELIVERY_WEBHOOK_SECRET[_FILE]) is a whsec_ secret of "
            f"{len(key)} bytes, fewer than {MIN_SECRET_CHARS}: anyone could forge what it signs"
        )
    return secret


class WebhookSender:
    """POSTs signed JSON with httpx; one client (connection pool) per process."""

    resend_when_unknown = True

    def __init__(self, settings: DeliverySettings, store: DeliveryStore) -> None:
        self._settings = settings
        self._store = store
        self._secret = webhook_secret(settings)
        self._client = httpx.Client(
            timeout=settings.webhook.timeout_s, headers={"User-Agent": USER_AGENT}
        )

    def send(self, action: NurtureAction, profile: CandidateProfile, attempt: int) -> str:
        name = endpoint_name(action, self._settings)
        if self._store.is_gone(name):
            raise EndpointGoneError(name)
        url = self._settings.webhook.endpoints.get(name)
        if url is None:
            raise PermanentDeliveryError("unknown_endpoint", f"no URL configured for {name}")
        body = orjson.dumps(payload(action, profile, attempt))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": action.action_id,
            **signed_headers(self._secret, action.action_id, body),
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetriableDeliveryError("timeout", type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise RetriableDeliveryError("connection_error", type(exc).__name__) from exc
        status = response.status_code
        detail = f"http {status}"
        if 200 <= status < 300:
            return detail
        if status == 410:
            self._store.mark_gone(name)
            raise EndpointGoneError(name)
        if status == 429 or status >= 500:
            raise RetriableDeliveryError(
                "http_retriable",
                detail,
                retry_after_s=retry_after_s(response.headers.get("Retry-After"), datetime.now(UTC)),
            )
        raise PermanentDeliveryError("http_rejected", detail)

    def close(self) -> None:
        self._client.close()
