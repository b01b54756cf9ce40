"""Guards: checked for every step at its decision time; each refusal names a reason.

Order: ``erased``, then ``unsubscribed``, then consent (``consent_missing`` /
``consent_withdrawn`` / ``consent_expired``: :mod:`schemas.consent`, the rule delivery applies
again at send time), then frequency caps (``cap_daily`` /
``cap_weekly``), then quiet hours, which do not refuse but hold the action until the window
opens. Removing someone from an ad audience is never refused for consent or unsubscribes (it
honours them). Calendar days and times of day are the candidate's own (their IANA time zone).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.consent import consent_refusal, unsubscribe_applies
from schemas.timestamps import from_micros, to_micros
from streams.campaigns.definitions import AdAudienceAction, Step
from streams.campaigns.durations import DAY_US
from streams.campaigns.policy import Policy, clock_minutes
from streams.campaigns.state import CampaignState
from streams.campaigns.view import CandidateView

#: Every reason a step can be suppressed for (metrics label values: a small, fixed set).
REASONS = (
    "erased",
    "unsubscribed",
    "consent_missing",
    "consent_withdrawn",
    "consent_expired",
    "cap_daily",
    "cap_weekly",
    "no_content",
    "exited",
)
#: Sends older than this (before the newest one) no longer matter to any cap.
_CAP_MEMORY_US = 8 * DAY_US


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (UTC if unknown: profiles are validated upstream)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def consent_channel(policy: Policy, step: Step) -> str | None:
    """The consent channel ``step`` needs (None: no consent check)."""
    if step.consent is not None:
        return None if step.consent == "none" else step.consent
    return policy.consent_channels.get(step.action.channel)


def contact_reason(
    policy: Policy, step: Step, candidate: CandidateView, state: CampaignState, at_us: int
) -> str | None:
    """Erasure, unsubscribes and consent: why ``step`` may not reach ``candidate`` at ``at_us``."""
    action = step.action
    if isinstance(action, AdAudienceAction) and action.op == "remove" and not candidate.erased:
        return None
    return channel_reason(consent_channel(policy, step), candidate, state, at_us)


def channel_reason(
    channel: str | None, candidate: CandidateView, state: CampaignState, at_us: int
) -> str | None:
    """Why contact needing consent ``channel`` (None: none) is not allowed at ``at_us``."""
    if candidate.erased:
        return "erased"
    if channel is None:
        return None
    consent = candidate.consents.get(channel)
    for key in (channel, "all"):
        if key in candidate.unsubscribed:
            return "unsubscribed"
        if unsubscribe_applies(state.unsub.get(key), consent, at_us):
            return "unsubscribed"
    return consent_refusal(consent, at_us)


def cap_reason(
    policy: Policy, step: Step, state: CampaignState, at_us: int, time_zone: str
) -> str | None:
    """``cap_daily`` / ``cap_weekly`` when sending ``step`` at ``at_us`` would exceed a cap."""
    if step.transactional:
        return None
    caps = policy.caps_for(step.action.channel)
    if not caps:
        return None
    tz = zone(time_zone)
    day = _local_day(at_us, tz)
    for cap in caps:
        days = [_local_day(at, tz) for at, _ in state.sent.get(cap.name, ())]
        if cap.daily is not None and sum(1 for d in days if d == day) >= cap.daily:
            return "cap_daily"
        if cap.weekly is not None and sum(1 for d in days if day - 6 <= d <= day) >= cap.weekly:
            return "cap_weekly"
    return None


def count_send(
    policy: Policy, step: Step, state: CampaignState, at_us: int, action_id: str
) -> None:
    """Remember a send at ``at_us`` in every cap that counts ``step``'s channel."""
    if step.transactional:
        return
    for cap in policy.caps_for(step.action.channel):
        sends = state.sent.setdefault(cap.name, [])
        sends.append([at_us, action_id])
        sends.sort()
        newest = sends[-1][0]
        sends[:] = [pair for pair in sends if pair[0] > newest - _CAP_MEMORY_US]


def uncount_send(state: CampaignState, action_id: str) -> None:
    """Forget the send of ``action_id`` (a held action that was cancelled)."""
    for name, sends in list(state.sent.items()):
        kept = [pair for pair in sends if pair[1] != action_id]
        if kept:
            state.sent[name] = kept
        else:
            del state.sent[name]


def quiet_release(policy: Policy, channel: str, at_us: int, time_zone: str) -> int | None:
    """When the quiet hours around ``at_us`` end (epoch µs), or None outside them."""
    quiet = policy.quiet_hours
    if channel not in quiet.channels:
        return None
    start, end = clock_minutes(quiet.start), clock_minutes(quiet.end)
    if start == end:
        return None
    tz = zone(time_zone)
    local = from_micros(at_us).astimezone(tz)
    minute = local.hour * 60 + local.minute
    crosses_midnight = start > end
    inside = (minute >= start or minute < end) if crosses_midnight else start <= minute < end
    if not inside:
        return None
    day = local.date()
    if crosses_midnight and minute >= start:
        day += timedelta(days=1)
    opens = datetime.combine(day, time(end // 60, end % 60), tzinfo=tz)
    return max(to_micros(opens), at_us)


def _local_day(at_us: int, tz: ZoneInfo) -> int:
    return from_micros(at_us).astimezone(tz).date().toordinal()
