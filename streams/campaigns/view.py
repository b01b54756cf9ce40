"""What the engine reads about a candidate and an event: small, immutable, plain data.

The worker builds a :class:`CandidateView` from the candidate's table row (the non-PII profile
fields and the engagement tier, see ``streams/worker/rows.py``) with :func:`candidate_view`, and
an :class:`EventView` from a decoded activity record with :func:`event_view`. Times are epoch
microseconds (UTC); datetimes are accepted and converted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.consent import ConsentView
from schemas.timestamps import to_micros


@dataclass(frozen=True, slots=True)
class CandidateView:
    """The candidate as the campaign conditions and guards see them."""

    candidate_id: str
    #: Engagement tier from the scoring state (None: no event scored yet).
    tier: str | None = None
    locale: str | None = None
    time_zone: str = "UTC"
    interests: tuple[str, ...] = ()
    job_families: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    consents: Mapping[str, ConsentView] = field(default_factory=dict)
    #: Channels (or ``all``) on a global suppression list, besides the unsubscribe events the
    #: engine remembers itself.
    unsubscribed: frozenset[str] = frozenset()
    erased: bool = False
    #: Version of the scoring model behind ``tier``; stamped on every action.
    model_version: str = "unscored"

    @property
    def language(self) -> str | None:
        """The language subtag of the locale (``de`` for ``de-DE``), lowercase."""
        return self.locale.split("-", 1)[0].lower() if self.locale else None


@dataclass(frozen=True, slots=True)
class EventView:
    """The part of an activity event the engine needs."""

    event_id: str
    type: str
    occurred_at_us: int
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TierChange:
    """An engagement tier transition caused by an event (``scoring.Update`` with a change)."""

    previous: str | None
    tier: str


def candidate_view(  # noqa: PLR0913 - keyword-only fields of the view it builds
    candidate_id: str,
    profile: Mapping[str, Any] | None,
    *,
    tier: str | None = None,
    model_version: str = "unscored",
    unsubscribed: frozenset[str] = frozenset(),
    erased: bool = False,
) -> CandidateView:
    """The view of a candidate from the profile part of a worker row (or a decoded profile).

    ``profile`` None (no profile received yet) gives a candidate without consents, so every
    consent-needing step is suppressed with ``consent_missing``.
    """
    data = profile or {}
    consents = {
        channel: ConsentView(
            granted=bool(raw.get("granted")),
            granted_us=_us(raw.get("granted_at")) or 0,
            expires_us=_us(raw.get("expires_at")),
            withdrawn_us=_us(raw.get("withdrawn_at")),
        )
        for channel, raw in (data.get("consents") or {}).items()
    }
    return CandidateView(
        candidate_id=candidate_id,
        tier=tier,
        locale=data.get("locale"),
        time_zone=data.get("time_zone") or "UTC",
        interests=tuple(data.get("interests") or ()),
        job_families=tuple(data.get("job_families") or ()),
        locations=tuple(data.get("locations") or ()),
        consents=consents,
        unsubscribed=unsubscribed,
        erased=erased,
        model_version=model_version,
    )


def event_view(record: Mapping[str, Any]) -> EventView:
    """The view of a decoded activity event (Avro dict: ``occurred_at`` datetime or µs)."""
    occurred = _us(record["occurred_at"])
    if occurred is None:
        raise ValueError(f"event {record.get('event_id')}: occurred_at is missing")
    return EventView(record["event_id"], record["type"], occurred, record.get("payload") or {})


def _us(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_micros(value)
    return int(value)
