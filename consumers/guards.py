"""Checks at send time: may this action go out to this candidate now? Pure functions.

The campaign engine checked consent when it decided; time passes between the decision and the
send (quiet hours, retries, a backlog), so delivery checks again against the latest profile,
with the same rule (:mod:`schemas.consent`).
A refusal is a ``suppressed`` outcome with one of :data:`REASONS` (``unsubscribed`` comes from
:mod:`consumers.suppression`, which checks ``candidate.suppression`` before these).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from consumers.profiles import ProfileEntry
from schemas.consent import CONSENT_CHANNEL, consent_refusal
from schemas.models import NurtureAction
from schemas.timestamps import to_micros

REASONS: Final = (
    "no_profile",
    "erased",
    "consent_missing",
    "consent_withdrawn",
    "consent_expired",
    "no_email",
    "unsubscribed",
)

#: Channels that need the candidate's e-mail address.
EMAIL_CHANNELS: Final = frozenset({"email", "career_event_invite"})


def refusal(action: NurtureAction, profile: ProfileEntry | None, now: datetime) -> str | None:
    """Why ``action`` must not be sent at ``now`` (one of :data:`REASONS`), or None if it may."""
    if profile is None:
        return "no_profile"
    if isinstance(profile, str):  # the only string entry is ERASED
        return "erased"
    consent_channel = CONSENT_CHANNEL.get(action.channel)
    if consent_channel is not None and not is_removal(action):
        consent = profile.consents.get(consent_channel)
        reason = consent_refusal(consent.view() if consent else None, to_micros(now))
        if reason is not None:
            return reason
    if action.channel in EMAIL_CHANNELS and profile.contact.email is None:
        return "no_email"
    return None


def is_removal(action: NurtureAction) -> bool:
    """Removing someone from an ad audience honours a withdrawal: never refused for consent
    or unsubscribes."""
    return action.channel == "ad_audience" and action.audience_op == "remove"
