"""Checks at send time: may this action go out to this candidate now? Pure functions.

The campaign engine checked consent when it decided; time passes between the decision and the
send (quiet hours, retries, a backlog), so delivery checks again against the latest profile.
A refusal is a ``suppressed`` outcome with one of :data:`REASONS` (``unsubscribed`` comes from
:mod:`consumers.suppression`, which checks ``candidate.suppression`` before these).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from consumers.profiles import ProfileEntry
from schemas.models import CandidateProfile, NurtureAction

#: The consent channel each action channel needs (docs/campaigns.md); None: no consent needed.
CONSENT_CHANNEL: Final[dict[str, str | None]] = {
    "email": "email",
    "career_event_invite": "events",
    "ad_audience": "ads",
    "recruiter_alert": None,
    "webhook": None,
}

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
        reason = consent_refusal(profile, consent_channel, now)
        if reason is not None:
            return reason
    if action.channel in EMAIL_CHANNELS and profile.contact.email is None:
        return "no_email"
    return None


def is_removal(action: NurtureAction) -> bool:
    """Removing someone from an ad audience honours a withdrawal: never refused for consent
    or unsubscribes."""
    return action.channel == "ad_audience" and action.audience_op == "remove"


def consent_refusal(profile: CandidateProfile, consent_channel: str, now: datetime) -> str | None:
    """Why the profile's consent for ``consent_channel`` does not allow contact at ``now``."""
    consent = profile.consents.get(consent_channel)
    if consent is None or not consent.granted or now < consent.granted_at:
        return "consent_missing"
    if consent.withdrawn_at is not None and now >= consent.withdrawn_at:
        return "consent_withdrawn"
    if consent.expires_at is not None and now >= consent.expires_at:
        return "consent_expired"
    return None
