"""The simulator's generator: a seeded, pure stream of profiles and activity events.

:func:`generate` draws candidates one after another and keeps ``concurrent`` of their journeys
open at once, emitting the next record of a randomly chosen open journey each step. So the stream
interleaves candidates while each candidate's records stay in order: the profile first, then the
events in event-time order. Event times lie in the ``days`` before ``end`` (back-dated, as in a
backfill), so the stream as a whole is not in time order.

Everything comes from one :class:`random.Random` seeded with ``seed`` (event ids too), and no
clock is read: the same arguments give the same records. A ``run_id`` re-derives the
identifiers only (:mod:`producers.simulate.run_ids`), so a live pipeline that already has the
seed's events takes the same content again as new events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from producers.simulate.journeys import career_events, journey, to_micros
from producers.simulate.population import make_candidate
from producers.simulate.run_ids import scope_record

Subject = Literal["candidate_profile", "activity_event"]

#: ``end`` of :func:`generate` when none is given: a fixed instant, so defaults reproduce.
DEFAULT_END = datetime(2025, 1, 1, tzinfo=UTC)


class SimRecord(NamedTuple):
    """One generated record and its contract subject (the codec's dict form)."""

    subject: Subject
    record: dict[str, Any]


def generate(  # noqa: PLR0913 - keyword-only knobs of the simulator, one per CLI option
    seed: int,
    candidates: int,
    *,
    events: int | None = None,
    days: float = 30.0,
    end: datetime = DEFAULT_END,
    events_per_candidate: float = 12.0,
    concurrent: int = 64,
    run_id: str | None = None,
) -> Iterator[SimRecord]:
    """Profiles and activity events of ``candidates`` synthetic people.

    Args:
        seed: seeds the one RNG everything is drawn from.
        candidates: population size; each candidate's profile precedes their events.
        events: stop after this many activity events (None: when every journey has ended).
        days: event times are spread over the ``days`` before ``end``.
        end: latest event time (aware datetime).
        events_per_candidate: mean journey length before engagement level and time cut-off.
        concurrent: journeys open at once, i.e. how finely candidates interleave.
        run_id: scope every identifier to this run (None: the seed's own identifiers); the
            records are otherwise the same, field for field.
    """
    if end.tzinfo is None:
        raise ValueError("end must be a timezone-aware datetime")
    if candidates < 0 or days <= 0 or events_per_candidate <= 0 or concurrent < 1:
        raise ValueError("candidates >= 0, days > 0, events_per_candidate > 0, concurrent >= 1")
    if run_id == "":
        raise ValueError("run_id must be None or a non-empty string")
    rng = random.Random(seed)
    span = timedelta(days=days)
    start = end - span
    catalog = career_events(rng, to_micros(start), to_micros(end))
    remaining = events if events is not None else -1

    def open_journey(index: int) -> list[SimRecord]:
        joined_at = start + span * (rng.random() * 0.95)
        joined_at -= timedelta(microseconds=joined_at.microsecond)
        cand = make_candidate(rng, index, joined_at, end)
        steps = journey(rng, cand, catalog, end, events_per_candidate)
        return [
            SimRecord("candidate_profile", cand.profile),
            *(SimRecord("activity_event", e) for e in steps),
        ]

    next_index = 0
    open_journeys: list[list[SimRecord]] = []
    positions: list[int] = []
    while remaining != 0:
        while len(open_journeys) < concurrent and next_index < candidates:
            open_journeys.append(open_journey(next_index))
            positions.append(0)
            next_index += 1
        if not open_journeys:
            return
        slot = int(rng.random() * len(open_journeys))
        records, position = open_journeys[slot], positions[slot]
        record = records[position]
        if position + 1 < len(records):
            positions[slot] = position + 1
        else:  # journey done: the last open one takes its slot
            open_journeys[slot] = open_journeys[-1]
            positions[slot] = positions[-1]
            open_journeys.pop()
            positions.pop()
        if record.subject == "activity_event":
            remaining -= 1
        if run_id is not None:
            record = SimRecord(record.subject, scope_record(record.record, run_id))
        yield record
