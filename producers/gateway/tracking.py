"""E-mail tracking links -> activity events: opens, clicks and one-click unsubscribes.

The delivery consumer puts signed, expiring tokens (:mod:`schemas.tracking_tokens`) into the
links of every e-mail; the token is the only credential of these endpoints. A valid token
becomes one activity event on ``candidate.activity`` (source :data:`TRACKING_SOURCE`), published
through the same path as ``POST /v1/events`` (validation, de-duplication window, metrics).

Claims read: ``a`` action id and ``c`` candidate id (both required), ``k`` campaign id,
``u`` target URL and ``i`` content id (clicks), ``ch`` consent channel (unsubscribes; ``email``
when absent). Tokens issued before ``k``/``i``/``ch`` existed still work without them.

Event ids are uuid5 of the kind and the claims that identify the fact, so repeats are
duplicates (answered as usual, published once per de-duplication window; the stream worker's
de-duplication by ``event_id`` is the backstop across processes and restarts):

* open: one per action (the message was opened; re-renders, prefetching proxies and forwards
  do not inflate the engagement score);
* click: one per action and link;
* unsubscribe: one per action and channel.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from producers.gateway.ingest import EventIngest
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.models import EventStatus
from schemas.metric_names import FunnelStage
from schemas.tracking_tokens import InvalidTokenError, Purpose, Refusal, read_token

#: ``source`` of the events published here (bounded metric label; not an API key's source).
TRACKING_SOURCE = "gateway-tracking"
#: Longest token looked at; the sender's are ~200-600 characters (a click carries its URL).
MAX_TOKEN_CHARS = 4096
#: Namespace of the uuid5 event ids (fixed forever: changing it breaks de-duplication).
EVENT_ID_NAMESPACE = uuid.UUID("6f1c7d1e-4b5a-5e8f-9a60-2c1d3e4f5a6b")

#: The event type each kind of link publishes.
EVENT_TYPE: dict[Purpose, str] = {
    "open": "email_opened",
    "click": "email_clicked",
    "unsubscribe": "unsubscribed",
}

#: The marketing funnel stage (:data:`~schemas.metric_names.FUNNEL_METRIC`) of each kind of link.
FUNNEL_STAGE: dict[Purpose, FunnelStage] = {"open": "opened", "click": "clicked"}


class Claims:
    """The checked claims of one valid token (ids only; nothing personal)."""

    def __init__(self, kind: Purpose, claims: dict[str, Any]) -> None:
        self.kind = kind
        self.action_id = _text(claims, "a", required=True)
        self.candidate_id = _text(claims, "c", required=True)
        self.campaign_id = _text(claims, "k")
        self.url = _text(claims, "u", required=kind == "click")
        if self.url is not None and not _web_url(self.url):
            raise _BadClaimError("claim 'u' must be an http(s) URL")
        self.content_id = _text(claims, "i")
        self.channel = _text(claims, "ch") or "email"

    def event_id(self) -> str:
        """Deterministic per fact (see the module docstring)."""
        parts: tuple[str | None, ...] = (self.kind, self.action_id, self.candidate_id)
        if self.kind == "click":
            parts += (self.url,)
        elif self.kind == "unsubscribe":
            parts += (self.channel,)
        return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\x1f".join(p or "" for p in parts)))

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"action_id": self.action_id, "campaign_id": self.campaign_id}
        if self.kind == "click":
            payload.update(url=self.url, content_id=self.content_id)
        elif self.kind == "unsubscribe":
            payload.update(channel=self.channel, reason="one_click")
        return payload

    def event(self, occurred_at: datetime) -> dict[str, Any]:
        """The activity event in its JSON-envelope form (as ``POST /v1/events`` takes it)."""
        return {
            "event_id": self.event_id(),
            "type": EVENT_TYPE[self.kind],
            "candidate_id": self.candidate_id,
            "occurred_at": occurred_at,
            "source": TRACKING_SOURCE,
            "payload": self.payload(),
        }


def check_token(secret: str, kind: Purpose, token: str) -> Claims:
    """The claims of a valid ``kind`` token; :class:`InvalidTokenError` otherwise.

    Besides :func:`read_token`'s checks: at most :data:`MAX_TOKEN_CHARS` ASCII characters, and
    the ids (and a click's URL) present as non-empty strings.
    """
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise InvalidTokenError(f"{kind} token: not a token", "bad_signature")
    try:
        return Claims(kind, read_token(secret, kind, token))
    except _BadClaimError as exc:
        raise InvalidTokenError(f"{kind} token: {exc}", "malformed") from None


class TrackingIngest:
    """Checks tokens and publishes their events; counts refused tokens by kind and reason."""

    def __init__(self, secret: str, events: EventIngest, metrics: GatewayMetrics) -> None:
        self._secret = secret
        self._events = events
        self._metrics = metrics

    def claims(self, kind: Purpose, token: str) -> Claims | None:
        """The token's claims, or None (counted) when it is not a valid ``kind`` token."""
        try:
            return check_token(self._secret, kind, token)
        except InvalidTokenError as exc:
            self.refused(kind, exc.reason)
            return None

    def refused(self, kind: Purpose, reason: Refusal) -> None:
        self._metrics.tracking_refused.labels(kind, reason).inc()

    async def publish(self, claims: Claims) -> EventStatus:
        """Publish the event of ``claims`` (acks=all, within the ack timeout); its status.

        Counted like any event (``nurture_events_*`` with source ``gateway-tracking``).
        """
        event = claims.event(datetime.now(UTC))
        _, answer = await self._events.ingest([event], TRACKING_SOURCE, "envelope")
        [result] = answer["results"]
        status: EventStatus = result["status"]
        if status == "accepted" and claims.kind in FUNNEL_STAGE:
            stage = FUNNEL_STAGE[claims.kind]
            self._metrics.funnel.labels(claims.campaign_id or "unknown", stage).inc()
        return status


class _BadClaimError(ValueError):
    """A signed token with a missing or unusable claim (internal: becomes InvalidTokenError)."""


def _text(claims: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value:
        return value
    if required or value is not None:
        raise _BadClaimError(f"claim {name!r} must be a non-empty string")
    return None


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
