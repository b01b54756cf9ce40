"""Picking catalog content for one candidate at one decision time: deterministic, no repeats.

An item is eligible when it is live at the decision time (published, not expired, a career
event not yet started), was never sent to the candidate, is in the candidate's language or the
policy's fallback language, and is for one of the candidate's locations (items without
locations, or listing ``remote``, are for everyone). With ``require_match`` it must also share a
tag with the candidate's interests or job families, or a job family.

Eligible items are ranked: own language first, then relevance (shared tags + shared job
families), then the soonest event / the newest post, then the id, so the same inputs always
give the same picks.
"""

from __future__ import annotations

from collections.abc import Collection

from streams.campaigns.catalog import ContentCatalog, ContentItem
from streams.campaigns.definitions import ContentSpec
from streams.campaigns.view import CandidateView


def pick_content(  # noqa: PLR0913 - a pure rule: the candidate, what it was sent, time and fallback
    catalog: ContentCatalog,
    spec: ContentSpec,
    candidate: CandidateView,
    *,
    sent: Collection[str],
    at_us: int,
    fallback_language: str | None,
) -> list[ContentItem]:
    """Up to ``spec.count`` items for ``candidate`` at ``at_us``, best first (maybe none)."""
    own = candidate.language
    languages = {lang for lang in (own, fallback_language) if lang is not None}
    interests = {value.lower() for value in candidate.interests}
    families = {value.lower() for value in candidate.job_families}
    topics = interests | families
    places = {value.lower() for value in candidate.locations}
    ranked: list[tuple[tuple[int, int, int, str], ContentItem]] = []
    for kind in spec.kinds:
        for item in catalog.of_kind(kind):
            if not item.live_at(at_us) or item.content_id in sent:
                continue
            if languages and item.language not in languages:
                continue
            if item.locations and "remote" not in item.locations and not item.locations & places:
                continue
            relevance = len(item.tags & topics) + len(item.job_families & families)
            if spec.require_match and relevance == 0:
                continue
            when = item.starts_us if item.starts_us is not None else -item.published_us
            key = (0 if item.language == own else 1, -relevance, when, item.content_id)
            ranked.append((key, item))
    ranked.sort(key=lambda pair: pair[0])
    return [item for _, item in ranked[: spec.count]]
