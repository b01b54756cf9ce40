"""One candidate's journey: a time-ordered list of activity events drawn from a seeded RNG.

A journey is a random walk over *main* steps (read a blog post or a job page, open a nurture
e-mail, download a guide, register for a career event, subscribe to job alerts, apply,
unsubscribe) plus *follow-ups* scheduled at a later time (a click after an open, attending a
registered event when it starts, being hired some weeks after applying). Follow-ups wait in a
heap and are emitted when the walk's clock passes them, so a journey is always in time order.

E-mail reactions only happen while the candidate's e-mail consent allows mail and before they
unsubscribe, so the consent mix of the population shows in the events.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from producers.simulate.population import ENGAGEMENT_FACTOR, Candidate, new_uuid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = 60_000_000
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
SITE = "https://careers.example.test"

#: The publishing system of each event type (the events' ``source``).
SOURCES = {
    "page_viewed": "career-site",
    "talent_pool_joined": "career-site",
    "job_alert_subscribed": "career-site",
    "content_downloaded": "career-site",
    "email_opened": "esp",
    "email_clicked": "esp",
    "email_replied": "esp",
    "unsubscribed": "esp",
    "career_event_registered": "events-platform",
    "career_event_attended": "events-platform",
    "application_submitted": "ats",
    "candidate_hired": "ats",
}
_MAIN_STEPS = (
    "blog", "job", "email", "content_downloaded", "career_event_registered",
    "job_alert_subscribed", "application_submitted", "unsubscribed",
)  # fmt: skip
_MAIN_WEIGHTS = (24, 22, 26, 7, 6, 4, 3, 2)
CAMPAIGNS = ("camp-welcome", "camp-job-digest", "camp-event-invite", "camp-reengage")
BLOG_POSTS = (
    "how-we-hire-engineers", "a-day-in-data", "remote-first-at-scale", "graduate-stories",
    "interview-tips", "our-tech-stack", "growing-as-a-designer", "life-in-sales",
)  # fmt: skip
GUIDES = ("salary-guide-2025", "interview-handbook", "career-paths-report", "benefits-overview")


@dataclass(frozen=True)
class CareerEvent:
    """A fair, webinar or open day candidates can register for and attend."""

    career_event_id: str
    starts_us: int


def career_events(rng: random.Random, start_us: int, end_us: int) -> tuple[CareerEvent, ...]:
    """A dozen career events spread from ``start_us`` to two weeks after ``end_us``."""
    span = end_us + 14 * _DAY - start_us
    starts = sorted(start_us + int(rng.random() * span) for _ in range(12))
    return tuple(CareerEvent(f"ce-{i:02d}", at - at % _HOUR) for i, at in enumerate(starts))


def to_datetime(micros: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def to_micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class _Walk:
    """The mutable state of one journey while it is drawn."""

    def __init__(
        self, rng: random.Random, cand: Candidate, events: tuple[CareerEvent, ...], end_us: int
    ) -> None:
        self.rng = rng
        self.cand = cand
        self.career_events = events
        self.end_us = end_us
        self.out: list[dict[str, Any]] = []
        self.pending: list[tuple[int, int, str, dict[str, Any]]] = []
        self.alert = False
        self.unsubscribed = False
        self.applications = 0
        self._sequence = 0  # tie-breaker of follow-ups due at the same time
        self.email_from = to_micros(cand.email_from) if cand.email_from else None
        self.email_until = to_micros(cand.email_until) if cand.email_until else None

    def emit(self, at_us: int, kind: str, payload: dict[str, Any]) -> None:
        self.out.append(
            {
                "event_id": new_uuid(self.rng),
                "type": kind,
                "candidate_id": self.cand.candidate_id,
                "occurred_at": to_datetime(at_us),
                "source": SOURCES[kind],
                "payload": payload,
            }
        )

    def later(self, at_us: int, kind: str, payload: dict[str, Any]) -> None:
        if at_us <= self.end_us:
            self._sequence += 1
            heapq.heappush(self.pending, (at_us, self._sequence, kind, payload))

    def flush_until(self, at_us: int) -> None:
        while self.pending and self.pending[0][0] <= at_us:
            when, _, kind, payload = heapq.heappop(self.pending)
            self.emit(when, kind, payload)

    def email_allowed(self, at_us: int) -> bool:
        if self.unsubscribed or self.email_from is None or at_us < self.email_from:
            return False
        return self.email_until is None or at_us < self.email_until

    def job(self) -> tuple[str, str, str]:
        family = self.rng.choice(self.cand.job_families)
        city = self.rng.choice(self.cand.locations)
        slug = city.lower().replace(" ", "-")
        return f"job-{family}-{slug}-{self.rng.randrange(8)}", family, city

    def step(self, at_us: int, step: str) -> None:
        rng = self.rng
        if step == "email" and not self.email_allowed(at_us):
            step = "blog"
        if step == "unsubscribed" and not self.email_allowed(at_us):
            step = "job"
        if step == "job_alert_subscribed" and self.alert:
            step = "job"
        if step == "application_submitted" and self.applications >= 2:
            step = "blog"
        if step == "blog":
            post = rng.choice(BLOG_POSTS)
            self.emit(at_us, "page_viewed", _blog_view(post))
        elif step == "job":
            job_id, _, _ = self.job()
            self.emit(at_us, "page_viewed", _job_view(job_id))
        elif step == "email":
            self.email(at_us)
        elif step == "content_downloaded":
            guide = rng.choice(GUIDES)
            url = f"{SITE}/guides/{guide}.pdf"
            self.emit(at_us, "content_downloaded", {"content_id": guide, "url": url})
        elif step == "career_event_registered":
            self.register(at_us)
        elif step == "job_alert_subscribed":
            self.alert = True
            payload = {
                "alert_id": f"alert-{rng.getrandbits(32):08x}",
                "job_families": list(self.cand.job_families),
                "locations": list(self.cand.locations),
            }
            self.emit(at_us, "job_alert_subscribed", payload)
        elif step == "application_submitted":
            self.apply(at_us)
        else:
            self.unsubscribed = True
            campaign = rng.choice(CAMPAIGNS)
            payload = {"channel": "email", "campaign_id": campaign, "reason": "too_many_emails"}
            self.emit(at_us, "unsubscribed", payload)

    def email(self, at_us: int) -> None:
        rng = self.rng
        ids = {"action_id": new_uuid(rng), "campaign_id": rng.choice(CAMPAIGNS)}
        self.emit(at_us, "email_opened", dict(ids))
        if rng.random() < 0.35:
            clicked_at = at_us + rng.randint(1, 30 * _MINUTE)
            job_id, _, _ = self.job()
            url = f"{SITE}/jobs/{job_id}"
            self.later(clicked_at, "email_clicked", {**ids, "url": url, "content_id": None})
            self.later(clicked_at + rng.randint(1, _MINUTE), "page_viewed", _job_view(job_id))
        if rng.random() < 0.03:
            self.later(at_us + rng.randint(_HOUR, 48 * _HOUR), "email_replied", dict(ids))

    def register(self, at_us: int) -> None:
        upcoming = [e for e in self.career_events if e.starts_us > at_us]
        if not upcoming:
            self.emit(at_us, "page_viewed", _blog_view(self.rng.choice(BLOG_POSTS)))
            return
        event = self.rng.choice(upcoming[:4])
        payload = {
            "career_event_id": event.career_event_id,
            "starts_at": to_datetime(event.starts_us),
        }
        self.emit(at_us, "career_event_registered", payload)
        if self.rng.random() < 0.6:
            minutes = self.rng.randint(10, 90)
            attended = {"career_event_id": event.career_event_id, "attended_minutes": minutes}
            self.later(
                event.starts_us + self.rng.randint(0, 10 * _MINUTE),
                "career_event_attended",
                attended,
            )

    def apply(self, at_us: int) -> None:
        self.applications += 1
        job_id, family, city = self.job()
        application_id = f"app-{self.rng.getrandbits(48):012x}"
        payload = {
            "job_id": job_id,
            "application_id": application_id,
            "job_family": family,
            "location": city,
        }
        self.emit(at_us, "application_submitted", payload)
        if self.rng.random() < 0.1:
            hired = {"job_id": job_id, "application_id": application_id}
            self.later(at_us + self.rng.randint(5 * _DAY, 30 * _DAY), "candidate_hired", hired)


def _blog_view(post: str) -> dict[str, Any]:
    return {"url": f"{SITE}/blog/{post}", "page_type": "blog_post", "content_id": post}


def _job_view(job_id: str) -> dict[str, Any]:
    return {"url": f"{SITE}/jobs/{job_id}", "page_type": "job", "job_id": job_id}


def journey(
    rng: random.Random,
    cand: Candidate,
    events: tuple[CareerEvent, ...],
    end: datetime,
    mean_events: float,
) -> list[dict[str, Any]]:
    """The activity events of ``cand`` from ``cand.joined_at`` to ``end``, in time order."""
    end_us = to_micros(end)
    start_us = to_micros(cand.joined_at)
    walk = _Walk(rng, cand, events, end_us)
    target = 1 + int(rng.expovariate(1.0 / (mean_events * ENGAGEMENT_FACTOR[cand.engagement])))
    mean_gap = max(1, (end_us - start_us) // (target + 1))
    at_us = start_us + rng.randint(0, _HOUR)
    if rng.random() < 0.7:
        walk.emit(at_us, "talent_pool_joined", {"pool_id": f"pool-{cand.job_families[0]}"})
    else:
        walk.emit(at_us, "page_viewed", _job_view(walk.job()[0]))
    steps = rng.choices(_MAIN_STEPS, _MAIN_WEIGHTS, k=target)
    for step in steps[1:]:
        at_us += 1 + int(rng.expovariate(1.0) * mean_gap)
        if at_us > end_us:
            break
        walk.flush_until(at_us)
        walk.step(at_us, step)
    walk.flush_until(end_us)
    return walk.out
