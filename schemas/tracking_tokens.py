"""Signed, expiring tokens for the links in e-mails (unsubscribe, open pixel, click redirect).

A token is ``<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, purpose + "." + claims))>``:
no database lookup to check one, nothing personal in clear beyond ids (the candidate id and the
action id; a click token also carries its target URL). The purpose is part of the MAC, so an
open token cannot be replayed as an unsubscribe. Delivery signs them (:func:`make_token`) and
the gateway endpoints that accept them call :func:`read_token`: a rule of both, so it lives in
the contract below them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Literal

import orjson

from schemas.errors import NurtureError

Purpose = Literal["unsubscribe", "open", "click"]
#: Why a token was refused (bounded: a metric label of the gateway). A forged, truncated or
#: wrong-purpose token fails the signature check; ``malformed`` is a signed token with bad claims.
Refusal = Literal["bad_signature", "malformed", "expired"]
REFUSALS: tuple[Refusal, ...] = ("bad_signature", "malformed", "expired")


class InvalidTokenError(NurtureError):
    """Raised by :func:`read_token` for a malformed, forged, wrong-purpose or expired token.

    ``reason`` says which (one of :data:`REFUSALS`).
    """

    def __init__(self, message: str, reason: Refusal) -> None:
        self.reason: Refusal = reason
        super().__init__(message)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, claims: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}.{claims}".encode(), hashlib.sha256).digest())


def make_token(
    secret: str, purpose: Purpose, claims: dict[str, Any], *, ttl_s: int, now: float | None = None
) -> str:
    """A token for ``purpose`` carrying ``claims`` (JSON-safe), valid for ``ttl_s`` seconds."""
    issued = time.time() if now is None else now
    body = _b64(orjson.dumps({**claims, "exp": int(issued + ttl_s)}, option=orjson.OPT_SORT_KEYS))
    return f"{body}.{_mac(secret.encode(), purpose, body)}"


def read_token(
    secret: str, purpose: Purpose, token: str, *, now: float | None = None
) -> dict[str, Any]:
    """The claims of a valid ``purpose`` token; :class:`InvalidTokenError` otherwise."""
    body, _, mac = token.partition(".")
    expected = _mac(secret.encode(), purpose, body).encode()
    # Bytes, not str: compare_digest refuses non-ASCII str, and URLs carry whatever is sent.
    if not body or not mac or not hmac.compare_digest(mac.encode(), expected):
        raise InvalidTokenError(f"{purpose} token: bad signature", "bad_signature")
    try:
        claims = orjson.loads(_unb64(body))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidTokenError(f"{purpose} token: unreadable claims", "malformed") from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise InvalidTokenError(f"{purpose} token: no expiry", "malformed")
    if (time.time() if now is None else now) >= claims["exp"]:
        raise InvalidTokenError(f"{purpose} token: expired", "expired")
    return claims
