"""The run's input: one seeded population with duplicate event ids, and how it is published.

The records come from the simulator (:func:`producers.simulate.generate`): candidates with
profiles whose consents vary (so campaigns decide actions, delivery sends some and suppresses
others) and journeys of activity events, among them unsubscribes (so ``candidate.suppression``
gets records). A share of the events is sent once more at a later position, as a producer retry
or a redelivery would (same ``event_id``): the worker must count each once.

**Events in event-time order.** The simulator interleaves journeys spread over 30 days, so its
stream is far from time order. Campaign timers follow each partition's stream time (the latest
event time seen, ``NURTURE_WORKER_CLOCK=stream``) and fire after each batch; when a candidate's
event arrives after the stream time has passed one of its due steps, whether the step fires
before or after that event depends on where the batches were cut (the known limit in
docs/replay.md). Two fault-free runs batching differently then decide different actions (a
first version of this harness saw 15 missing and 5 extra of 347 actions without a single kill).
So the events are published in event-time order, as live traffic mostly is; only the
duplicates come late, and they change nothing.

**Profiles first.** The worker reads ``candidate.profile`` and ``candidate.activity`` with two
agents, so when both have records waiting, which it applies first is not defined, and a
campaign decision depends on the profile seen (consents). Both runs therefore publish every
profile, wait until the group has committed them, and only then publish activity (the replay
determinism test does the same). Everything after that is the same records in the same order,
through the SDK (idempotent producer), so each activity record has the same partition and offset
in both runs and the engagement records (which carry them) can be compared as they are.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from producers.producer import NurtureProducer
from producers.simulate import SimRecord, generate
from producers.simulate.output import Pacer, publish
from schemas.errors import NurtureError
from schemas.privacy.settings import PrivacySettings
from schemas.settings import KafkaSettings

#: Share of the events published a second time, later (duplicate event ids).
DUPLICATE_SHARE = 0.02
#: Mean journey length when the event count does not ask for more (as `nurture simulate`).
EVENTS_PER_CANDIDATE = 12.0
#: Days of event time the input spans, ending two days before the run (so no quiet-hours
#: release of an action lies in the future and delivery sends every due e-mail at once).
DAYS = 30.0

T = TypeVar("T")


class InputError(NurtureError):
    """Raised when the input could not be published (a rejected profile, Kafka failing)."""


@dataclass(frozen=True)
class ChaosInput:
    """Profiles, and activity events in publishing order (duplicates included)."""

    profiles: tuple[dict[str, Any], ...]
    events: tuple[dict[str, Any], ...]
    #: How many of ``events`` repeat an earlier event id.
    duplicates: int


def input_end(now: datetime) -> datetime:
    """The latest event time of a run started at ``now``: midnight UTC two days before."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=2)


def chaos_input(
    seed: int,
    events: int,
    candidates: int,
    *,
    end: datetime,
    duplicate_share: float = DUPLICATE_SHARE,
) -> ChaosInput:
    """``events`` simulated activity events (plus duplicates) of up to ``candidates`` people and
    their profiles; pure: the same arguments give the same records."""
    per_candidate = max(EVENTS_PER_CANDIDATE, math.ceil(1.5 * events / max(1, candidates)))
    records = generate(
        seed, candidates, events=events, days=DAYS, end=end, events_per_candidate=per_candidate
    )
    profiles: list[dict[str, Any]] = []
    activity: list[dict[str, Any]] = []
    for sim in records:
        (activity if sim.subject == "activity_event" else profiles).append(sim.record)
    activity.sort(key=lambda event: event["occurred_at"])  # stable: ties keep their order
    rng = random.Random(f"nurture-chaos-duplicates-{seed}")
    with_repeats, duplicates = with_duplicates(activity, rng, duplicate_share)
    return ChaosInput(tuple(profiles), tuple(with_repeats), duplicates)


def with_duplicates(items: Sequence[T], rng: random.Random, share: float) -> tuple[list[T], int]:
    """``items`` with ``round(share * len(items))`` of them repeated, each copy at a random
    position after its original; returns the list and the number of copies."""
    if not 0 <= share <= 1:
        raise ValueError(f"duplicate share must be between 0 and 1, got {share}")
    out = list(items)
    copies = round(len(items) * share)
    for _ in range(copies):
        source = rng.randrange(len(out))
        out.insert(rng.randint(source + 1, len(out)), out[source])
    return out, copies


def publish_profiles(
    kafka: KafkaSettings, profiles: Iterable[dict[str, Any]], privacy: PrivacySettings
) -> int:
    """Publish ``profiles`` through the SDK (contacts sealed with ``privacy``'s key); returns
    how many, once all are acknowledged."""
    with NurtureProducer(kafka, privacy=privacy) as producer:
        result = producer.upsert_profiles(profiles)
    if not result.ok:
        first = result.rejected[0]
        raise InputError(
            f"{result.rejected_count} simulated profiles were rejected, e.g. #{first.index}: "
            f"{first.field}: {first.reason}"
        )
    return result.accepted


def publish_events(
    kafka: KafkaSettings,
    parts: Sequence[tuple[Sequence[dict[str, Any]], float | None]],
    stop: threading.Event | None = None,
) -> int:
    """Publish activity events through one SDK producer, part after part: each part is
    ``(events, rate)`` (``rate`` events/s, None: as fast as possible) and is acknowledged before
    the next starts. Stops early when ``stop`` is set; returns how many were published."""
    published = 0
    with NurtureProducer(kafka) as producer:
        for events, rate in parts:
            pacer = Pacer(rate, None) if rate is not None else None
            counts = publish(_until(stop, events), producer, pacer)
            published += counts.events
    return published


def _until(stop: threading.Event | None, events: Iterable[dict[str, Any]]) -> Iterator[SimRecord]:
    for event in events:
        if stop is not None and stop.is_set():
            return
        yield SimRecord("activity_event", event)
