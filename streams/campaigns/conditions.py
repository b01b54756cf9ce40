"""Entry conditions: who may enter a campaign, checked once, at entry time.

Conditions target (they say who the campaign is for) and are silent: a candidate who does not
match simply does not enter. Guards (:mod:`streams.campaigns.guards`) protect (consent,
unsubscribes, caps, quiet hours) and are checked at every step with a reason.
"""

from __future__ import annotations

from schemas.consent import consent_refusal
from streams.campaigns.catalog import ContentCatalog
from streams.campaigns.definitions import Conditions
from streams.campaigns.personalise import pick_content
from streams.campaigns.policy import Policy
from streams.campaigns.state import CampaignState
from streams.campaigns.view import CandidateView


def conditions_met(  # noqa: PLR0913 - a pure rule over the candidate, its state, the time and the config
    conditions: Conditions,
    candidate: CandidateView,
    state: CampaignState,
    at_us: int,
    *,
    catalog: ContentCatalog,
    policy: Policy,
) -> bool:
    """True when ``candidate`` matches every condition at ``at_us`` (unset ones always match)."""
    return (
        _profile_matches(conditions, candidate, at_us)
        and _history_matches(conditions, state, at_us)
        and _content_available(conditions, candidate, state, at_us, catalog, policy)
    )


def _profile_matches(conditions: Conditions, candidate: CandidateView, at_us: int) -> bool:
    if conditions.tiers and candidate.tier not in conditions.tiers:
        return False
    if any(consent_refusal(candidate.consents.get(c), at_us) for c in conditions.consent):
        return False
    if conditions.locales and not _locale_matches(conditions.locales, candidate.locale):
        return False
    return (
        _shares(conditions.interests_any, candidate.interests)
        and _shares(conditions.job_families_any, candidate.job_families)
        and _shares(conditions.locations_any, candidate.locations)
    )


def _history_matches(conditions: Conditions, state: CampaignState, at_us: int) -> bool:
    """``not_within``: no such event in the window; ``within``: one in the window."""
    for event_type, window in conditions.not_within.items():
        last = state.seen.get(event_type)
        if last is not None and at_us - window <= last <= at_us:
            return False
    for event_type, window in conditions.within.items():
        last = state.seen.get(event_type)
        if last is None or not at_us - window <= last <= at_us:
            return False
    return True


def _content_available(  # noqa: PLR0913, PLR0917 - private helper of conditions_met
    conditions: Conditions,
    candidate: CandidateView,
    state: CampaignState,
    at_us: int,
    catalog: ContentCatalog,
    policy: Policy,
) -> bool:
    spec = conditions.matching_content
    if spec is None:
        return True
    picked = pick_content(
        catalog,
        spec,
        candidate,
        sent=set(state.content),
        at_us=at_us,
        fallback_language=policy.fallback_language,
    )
    return len(picked) >= max(spec.min, 1)


def _shares(wanted: tuple[str, ...], values: tuple[str, ...]) -> bool:
    if not wanted:
        return True
    return bool({w.lower() for w in wanted} & {v.lower() for v in values})


def _locale_matches(wanted: tuple[str, ...], locale: str | None) -> bool:
    if locale is None:
        return False
    locale = locale.lower()
    language = locale.split("-", 1)[0]
    return any(w.lower() in (locale, language) for w in wanted)
