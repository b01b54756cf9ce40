"""Signatures of webhook bodies, for the sender and for receivers.

Header ``Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` (the style of Stripe's),
where the MAC is over ``f"{t}.".encode() + body`` with the shared secret. The timestamp is
signed too, so a captured request cannot be replayed after ``tolerance_s``. Several ``v1=``
entries may appear (secret rotation); one matching is enough.

Receivers::

    from consumers.webhook_signature import verify
    if not verify(secret, request.headers["Nurture-Signature"], await request.body()):
        return Response(status_code=400)
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Nurture-Signature"


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` at ``timestamp`` (unix seconds; default now)."""
    key = secret.encode() if isinstance(secret, str) else secret
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},v1={_mac(key, at, body)}"


def verify(
    secret: str | bytes,
    header: str,
    body: bytes,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    key = secret.encode() if isinstance(secret, str) else secret
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _mac(key, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
