"""Consent: may a candidate be contacted on a channel at a given moment? One rule, pure.

The campaign engine asks when it decides (``streams/campaigns/guards.py``), delivery asks again
at send time (``consumers/guards.py``: time passes between the two) and profiles answer it
(:meth:`schemas.profile.Consent.is_active`); all three call :func:`consent_refusal`. Times are
epoch microseconds (UTC), as the records carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from schemas.actions import ActionChannel

#: Why consent does not allow contact (label values of metrics and ``suppressed`` outcomes).
ConsentRefusal = Literal["consent_missing", "consent_withdrawn", "consent_expired"]

#: The consent channel each action channel needs (docs/campaigns.md); None: no consent needed.
#: Delivery checks these at send time; the campaigns' ``policy.yaml`` starts from them.
CONSENT_CHANNEL: Final[Mapping[ActionChannel, str | None]] = MappingProxyType(
    {
        "email": "email",
        "career_event_invite": "events",
        "ad_audience": "ads",
        "recruiter_alert": None,
        "webhook": None,
    }
)


@dataclass(frozen=True, slots=True)
class ConsentView:
    """Consent for one channel (see ``schemas.profile.Consent``), times in epoch µs."""

    granted: bool
    granted_us: int
    expires_us: int | None = None
    withdrawn_us: int | None = None


def consent_refusal(consent: ConsentView | None, at_us: int) -> ConsentRefusal | None:
    """Why ``consent`` does not allow contact at ``at_us`` (None: it does).

    No consent, one not granted, or one granted later is ``consent_missing``; a withdrawal or
    expiry at or before ``at_us`` ends it.
    """
    if consent is None or not consent.granted or at_us < consent.granted_us:
        return "consent_missing"
    if consent.withdrawn_us is not None and at_us >= consent.withdrawn_us:
        return "consent_withdrawn"
    if consent.expires_us is not None and at_us >= consent.expires_us:
        return "consent_expired"
    return None


def unsubscribe_applies(
    unsubscribed_us: int | None, consent: ConsentView | None, at_us: int
) -> bool:
    """True when an unsubscribe at ``unsubscribed_us`` (None: none) is in force at ``at_us``.

    It is once it happened, at or before ``at_us``, unless consent was *granted* after it: that
    is a new opt-in and lifts it. A consent record that grants nothing lifts nothing. The
    campaign engine and delivery both ask this (one answer, one reason: ``unsubscribed``).
    """
    if unsubscribed_us is None or unsubscribed_us > at_us:
        return False
    return consent is None or not consent.granted or consent.granted_us <= unsubscribed_us
