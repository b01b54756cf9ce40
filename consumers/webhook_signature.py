"""Signatures of webhook bodies, for the sender and for receivers.

Every request carries two signatures made with the same key at the same moment:

**Standard Webhooks** (https://www.standardwebhooks.com), the one to verify::

    webhook-id: <action_id>            (the same on every retry; also the Idempotency-Key)
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}." + body)>

Receivers verify with any Standard Webhooks library, e.g. Python's ``standardwebhooks``::

    from standardwebhooks import Webhook
    Webhook("whsec_...").verify(await request.body(), dict(request.headers))

The ``whsec_...`` string is :func:`standard_secret` of the configured webhook secret: the secret's
UTF-8 bytes in standard base64 behind ``whsec_``. A configured secret that already is a
``whsec_<base64>`` string (one a receiver platform issued) is used as it stands: its key is the
decoded base64, and receivers pass the same string.

**Nurture-Signature** (deprecated; sent until 1.0.0, see docs/delivery.md)::

    Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>

keyed with the configured secret string's UTF-8 bytes as before (also for a ``whsec_`` secret).
:func:`verify` checks it; several ``v1=`` entries may appear (key rotation), one matching is enough.
Both timestamps are signed, so a captured request cannot be replayed after the tolerance.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

HEADER = "Nurture-Signature"
"""The deprecated header, kept for existing receivers until 1.0.0 (not before 2027-07-01)."""
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature of ``secret`` (pure): a ``whsec_``
    secret's decoded base64, any other secret's UTF-8 bytes. ValueError for a ``whsec_`` secret
    that is not valid base64 or is empty."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the part after {SECRET_PREFIX} is not standard base64") from exc
    if not key:
        raise ValueError(f"nothing follows {SECRET_PREFIX}")
    return key


def standard_secret(secret: str) -> str:
    """The ``whsec_<base64>`` string a receiver passes to ``standardwebhooks.Webhook`` (pure).

    Standard base64 (``+/``, padded): the libraries decode leniently and would silently drop
    the ``-`` and ``_`` of URL-safe base64, so the raw configured secret must not be passed."""
    if secret.startswith(SECRET_PREFIX):
        return secret
    return SECRET_PREFIX + base64.b64encode(secret.encode()).decode("ascii")


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value ``v1,<base64>`` of ``body`` (pure)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def signed_headers(
    secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The signature headers of one request: Standard Webhooks' three and ``Nurture-Signature``,
    all at ``timestamp`` (unix seconds; default now). ``message_id`` must stay the same on
    every retry of one message (the action id) so receivers can de-duplicate by it."""
    at = int(time.time()) if timestamp is None else timestamp
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(at),
        SIGNATURE_HEADER: standard_signature(standard_key(secret), message_id, at, body),
        HEADER: sign(secret, body, timestamp=at),
    }


def verify_standard(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when the Standard Webhooks headers sign ``body`` with ``secret`` (configured or
    ``whsec_`` form) within ``tolerance_s`` of ``now``; header names in any case. For receivers
    without a Standard Webhooks library; any one of several space-separated signatures may match."""
    lower = {name.lower(): value for name, value in headers.items()}
    message_id = lower.get(ID_HEADER, "")
    timestamp = lower.get(TIMESTAMP_HEADER, "")
    if not message_id or not (timestamp.isascii() and timestamp.isdigit()):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    expected = standard_signature(standard_key(secret), message_id, int(timestamp), body)
    candidates = lower.get(SIGNATURE_HEADER, "").split(" ")
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The deprecated ``Nurture-Signature`` value of ``body`` at ``timestamp`` (default now)."""
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
    """True when the deprecated ``Nurture-Signature`` ``header`` signs ``body`` with ``secret``
    within ``tolerance_s`` of ``now``."""
    key = secret.encode() if isinstance(secret, str) else secret
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
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
