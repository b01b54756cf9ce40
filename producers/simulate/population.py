"""Synthetic candidates: who they are, where they live, what they want, what they consented to.

Everything is drawn from the caller's seeded :class:`random.Random`, so a seed gives the same
people every time. Names and e-mail addresses are synthetic but look real, and are distinctive
(``first.last.<n>@example.test``) so tests can scan logs for leaked PII.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

ConsentState = Literal["granted", "expired", "withdrawn", "none"]
Engagement = Literal["low", "medium", "high"]

CONSENT_STATES: tuple[ConsentState, ...] = ("granted", "expired", "withdrawn", "none")
_CONSENT_WEIGHTS = (55, 15, 10, 20)
ENGAGEMENT_LEVELS: tuple[Engagement, ...] = ("low", "medium", "high")
_ENGAGEMENT_WEIGHTS = (40, 40, 20)
#: Mean events of each engagement level relative to the scenario's mean (weighted mean = 1).
ENGAGEMENT_FACTOR: dict[Engagement, float] = {"low": 0.3, "medium": 1.0, "high": 2.4}


@dataclass(frozen=True)
class Region:
    """A place candidates live: its time zone, usual locales, phone prefix and cities."""

    time_zone: str
    locales: tuple[str, ...]
    phone_prefix: str
    cities: tuple[str, ...]


REGIONS: tuple[Region, ...] = (
    Region("Europe/Berlin", ("de-DE", "en-GB"), "+49155", ("Berlin", "Munich", "Hamburg")),
    Region("Europe/London", ("en-GB",), "+447700", ("London", "Manchester", "Edinburgh")),
    Region("America/New_York", ("en-US", "es-US"), "+1212555", ("New York", "Boston")),
    Region("America/Los_Angeles", ("en-US",), "+1415555", ("San Francisco", "Seattle")),
    Region("Asia/Singapore", ("en-SG", "zh-SG"), "+6580", ("Singapore",)),
    Region("Europe/Paris", ("fr-FR", "en-GB"), "+33700", ("Paris", "Lyon")),
    Region("Europe/Amsterdam", ("nl-NL", "en-GB"), "+31970", ("Amsterdam", "Rotterdam")),
    Region("Asia/Kolkata", ("en-IN", "hi-IN"), "+91140", ("Bengaluru", "Pune")),
    Region("America/Sao_Paulo", ("pt-BR",), "+5511955", ("São Paulo",)),
)
_REGION_WEIGHTS = (22, 16, 14, 8, 10, 9, 7, 8, 6)

FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elif", "Farah", "Georg", "Hannah", "Ivan", "Julia",
    "Kenji", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Carla", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "Okafor", "Nguyen", "Fischer", "Garcia", "Tanaka", "Kowalski", "Haddad",
    "Jensen", "Moreau", "Patel", "Rossi", "Silva", "Weber", "Yilmaz", "Lindqvist", "Murphy",
    "Novak", "Costa", "Ahmed", "Becker", "Chen", "Dubois", "Eriksen", "Fontaine",
)  # fmt: skip
JOB_FAMILIES = (
    "engineering", "data", "product", "design", "sales", "marketing", "finance", "people",
)  # fmt: skip
INTERESTS = (
    "python", "kafka", "machine-learning", "cloud", "security", "leadership", "ux-research",
    "growth", "analytics", "remote-work", "career-change", "graduate-programmes",
)  # fmt: skip

_YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Candidate:
    """One synthetic person and the traits that shape their journey."""

    index: int
    candidate_id: str
    region: Region
    job_families: tuple[str, ...]
    locations: tuple[str, ...]
    engagement: Engagement
    consent: ConsentState
    #: When the journey starts (the profile's ``updated_at``).
    joined_at: datetime
    #: E-mail may be sent from ``email_from`` until ``email_until`` (None: never).
    email_from: datetime | None
    email_until: datetime | None
    profile: dict[str, Any]


_VERSION_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (reproducible, unlike :func:`uuid.uuid4`).

    Same bits as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, at a third of the cost.
    """
    h = f"{(rng.getrandbits(128) & _VERSION_CLEAR) | _VERSION_4:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def make_candidate(rng: random.Random, index: int, joined_at: datetime, end: datetime) -> Candidate:
    """Draw candidate number ``index`` whose journey starts at ``joined_at`` (before ``end``)."""
    region = rng.choices(REGIONS, _REGION_WEIGHTS)[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    families = tuple(rng.sample(JOB_FAMILIES, rng.choice((1, 1, 2))))
    locations = tuple(rng.sample(region.cities, 1))
    consent = rng.choices(CONSENT_STATES, _CONSENT_WEIGHTS)[0]
    consents, email_from, email_until = _consents(rng, consent, joined_at, end)
    candidate_id = f"cand-{rng.getrandbits(64):016x}"
    profile: dict[str, Any] = {
        "candidate_id": candidate_id,
        "contact": {
            "email": f"{first}.{last}.{index}@example.test".lower(),
            "first_name": first,
            "last_name": last,
            "phone": f"{region.phone_prefix}{index:07d}" if rng.random() < 0.6 else None,
        },
        "locale": rng.choice(region.locales) if rng.random() < 0.95 else None,
        "time_zone": region.time_zone,
        "interests": rng.sample(INTERESTS, rng.randint(1, 3)),
        "job_families": list(families),
        "locations": list(locations),
        "consents": consents,
        "updated_at": joined_at,
        "source": rng.choice(("career-site", "ats", "crm")),
    }
    return Candidate(
        index=index,
        candidate_id=candidate_id,
        region=region,
        job_families=families,
        locations=locations,
        engagement=rng.choices(ENGAGEMENT_LEVELS, _ENGAGEMENT_WEIGHTS)[0],
        consent=consent,
        joined_at=joined_at,
        email_from=email_from,
        email_until=email_until,
        profile=profile,
    )


def _consents(
    rng: random.Random, state: ConsentState, joined_at: datetime, end: datetime
) -> tuple[dict[str, Any], datetime | None, datetime | None]:
    """The profile's consents as of ``joined_at`` and the window in which e-mail is allowed.

    ``expired`` consents are valid at ``joined_at`` and lapse before ``end``; ``withdrawn`` ones
    were withdrawn before the journey starts; ``none`` has no e-mail consent at all.
    """
    consents: dict[str, Any] = {}
    if rng.random() < 0.3:
        consents["events"] = {"granted": True, "granted_at": joined_at, "expires_at": None}
    if rng.random() < 0.25:  # personalised ads (the hot-candidate ad audience needs it)
        consents["ads"] = {"granted": True, "granted_at": joined_at, "expires_at": None}
    if state == "none":
        return consents, None, None
    if state == "granted":
        granted_at = joined_at - timedelta(seconds=rng.randint(0, 3600))
        expires_at = granted_at + 2 * _YEAR
        consents["email"] = {"granted": True, "granted_at": granted_at, "expires_at": expires_at}
        return consents, joined_at, expires_at
    if state == "expired":
        expires_at = joined_at + (end - joined_at) * rng.uniform(0.2, 0.9)
        granted_at = expires_at - 2 * _YEAR
        consents["email"] = {"granted": True, "granted_at": granted_at, "expires_at": expires_at}
        return consents, joined_at, expires_at
    withdrawn_at = joined_at - timedelta(days=rng.uniform(1, 200))
    consents["email"] = {
        "granted": True,
        "granted_at": withdrawn_at - timedelta(days=rng.uniform(10, 400)),
        "expires_at": None,
        "withdrawn_at": withdrawn_at,
    }
    return consents, None, None
