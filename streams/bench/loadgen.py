"""Synthetic activity events for the worker's benchmark and tests (deterministic per seed).

Events of every type of the ``activity_event`` schema, for ``candidates`` candidates, with
event times moving forward (some out of order) and a share of exact duplicates (same
``event_id``, as a producer retry or a redelivery would give).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.codec import activity_codec
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings

#: Event time of the first synthetic event.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _payload(kind: str, rng: random.Random, n: int) -> dict[str, Any]:
    job = f"job-{rng.randrange(500)}"
    content = f"content-{rng.randrange(200)}"
    payloads: dict[str, dict[str, Any]] = {
        "application_submitted": {"job_id": job, "job_family": "engineering"},
        "page_viewed": {
            "url": f"https://careers.example.com/jobs/{job}",
            "page_type": rng.choice(("job", "blog_post", "career_home")),
            "job_id": job,
        },
        "email_opened": {"action_id": f"act-{n}", "campaign_id": "welcome"},
        "email_clicked": {"url": "https://careers.example.com/x", "campaign_id": "welcome"},
        "email_replied": {"campaign_id": "welcome"},
        "career_event_registered": {"career_event_id": f"ev-{rng.randrange(20)}"},
        "career_event_attended": {"career_event_id": f"ev-{rng.randrange(20)}"},
        "content_downloaded": {"content_id": content},
        "job_alert_subscribed": {"job_families": ["engineering"], "locations": ["Berlin"]},
        "talent_pool_joined": {"pool_id": "pool-1"},
        "unsubscribed": {"channel": "email"},
        "candidate_hired": {"job_id": job},
    }
    return payloads[kind]


#: Event types and how often they occur (page views dominate, hires are rare).
TYPE_WEIGHTS: dict[str, int] = {
    "page_viewed": 50,
    "email_opened": 15,
    "email_clicked": 8,
    "content_downloaded": 6,
    "job_alert_subscribed": 3,
    "career_event_registered": 3,
    "career_event_attended": 2,
    "talent_pool_joined": 2,
    "application_submitted": 4,
    "email_replied": 2,
    "unsubscribed": 1,
    "candidate_hired": 1,
}


@dataclass(frozen=True)
class LoadSpec:
    """What to generate."""

    events: int
    candidates: int = 1_000
    duplicate_share: float = 0.02
    out_of_order_share: float = 0.05
    seed: int = 7
    run: str = "load"
    #: Event time of the first event.
    start: datetime = START
    #: Multiplies the gaps between event times (1-90 s) and the out-of-order shifts (1-72 h):
    #: 1.0 spreads 200,000 events over ~100 days of history; the worker benchmark uses 0.001 to
    #: make them live traffic of the last hours.
    time_scale: float = 1.0


def candidate_id(index: int, run: str = "load") -> str:
    return f"{run}-cand-{index:06d}"


def activity_events(spec: LoadSpec) -> Iterator[dict[str, Any]]:
    """``spec.events`` activity records (Avro dict form), duplicates included in the count."""
    rng = random.Random(spec.seed)
    kinds, weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    clock = spec.start
    scale = spec.time_scale
    recent: list[dict[str, Any]] = []
    for n in range(spec.events):
        if recent and rng.random() < spec.duplicate_share:
            yield rng.choice(recent)
            continue
        clock += timedelta(seconds=rng.randrange(1, 90) * scale)
        occurred = clock
        if rng.random() < spec.out_of_order_share:
            occurred -= timedelta(hours=rng.randrange(1, 72) * scale)
        kind = rng.choices(kinds, weights)[0]
        record = {
            "event_id": f"{spec.run}-evt-{n:09d}",
            "type": kind,
            "candidate_id": candidate_id(rng.randrange(spec.candidates), spec.run),
            "occurred_at": occurred,
            "source": "loadgen",
            "received_at": None,
            "correlation_id": None,
            "payload": _payload(kind, rng, n),
        }
        recent.append(record)
        if len(recent) > 200:
            recent.pop(0)
        yield record


def encoded_events(spec: LoadSpec) -> list[tuple[bytes, bytes]]:
    """The events of ``spec`` as ``(key, value)`` pairs ready to produce (Avro, key = candidate)."""
    encode = activity_codec().encode
    return [(r["candidate_id"].encode(), encode(r)) for r in activity_events(spec)]


def publish(kafka: KafkaSettings, topic: str, pairs: Iterable[tuple[bytes, bytes | None]]) -> int:
    """Produce ``(key, value)`` pairs to ``topic`` with kafka-python (default murmur2 partitioner,
    as the SDK uses), wait until all are acknowledged, return how many were sent."""
    producer = clients.producer(kafka, acks="all", linger_ms=20, batch_size=256 * 1024)
    count = 0
    try:
        for key, value in pairs:
            producer.send(topic, key=key, value=value)
            count += 1
        producer.flush()
    finally:
        producer.close()
    return count


def live_spec(*, events: int, **fields: Any) -> LoadSpec:
    """Synthetic *live* traffic: event times over the last hours, ending now (as a live worker
    sees them; a history of months would make the wall-clock campaign timers work through a
    backfill, which is what `nurture replay rebuild` is for)."""
    scale = 0.001
    span = timedelta(seconds=events * 45 * scale + 3600)
    return LoadSpec(events=events, start=datetime.now(UTC) - span, time_scale=scale, **fields)
