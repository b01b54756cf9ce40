"""Scoring one batch of activity events: pure functions over plain data (no Kafka, no faust).

The agent groups a batch by candidate and calls :func:`score_candidate` once per candidate, so
each row is read and written once per batch however many events the candidate had in it. Tests
and the reference computation of the crash tests call the same functions.

Scoring only scores: it returns the events that moved the score (:class:`ScoredEvent`, with the
tier each left the candidate in) and the processor hands them to the campaign engine
(:meth:`streams.worker.campaigns.CampaignOutput.on_scored`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemas.errors import ConfigError
from schemas.timestamps import to_micros
from streams.scoring.config import ScoringModel
from streams.scoring.state import EngagementState, new_state
from streams.scoring.update import ScoringInput, Update, apply_event, engagement_record
from streams.worker.rows import ENGAGEMENT, Row, load_row


@dataclass(slots=True)
class ActivityItem:
    """One decoded activity event and where it came from."""

    record: dict[str, Any]
    partition: int
    offset: int


@dataclass(slots=True)
class RejectedItem:
    """An event the model refused (its error goes to the dead-letter topic with the bytes)."""

    item: ActivityItem
    error: Exception


class ScoredEvent(NamedTuple):
    """An applied event that was neither a duplicate nor too late: what campaigns react to."""

    #: The decoded activity event.
    record: dict[str, Any]
    #: What it did: the tier it left the candidate in, the tier before, whether that changed.
    update: Update


@dataclass(slots=True)
class CandidateOutcome:
    """What scoring a candidate's events of one batch produced."""

    row: Row
    #: The engagement record (Avro dict, times in epoch µs) to publish: the current score, also
    #: after duplicates.
    record: dict[str, Any] | None
    duplicates: int = 0
    too_late: int = 0
    rejected: list[RejectedItem] = field(default_factory=list)
    #: Each applied, new event (in order): the campaign engine's input.
    events: list[ScoredEvent] = field(default_factory=list)

    @property
    def scored(self) -> int:
        """Events that changed the score (neither duplicates nor too late)."""
        return len(self.events)

    @property
    def tier_changes(self) -> list[tuple[str | None, str]]:
        """(tier before, tier after) of each scored event that moved the candidate (before is
        None for a candidate's first event), for the tier transition metric."""
        return [
            (update.previous_tier, update.tier)
            for _, update in self.events
            if update.previous_tier != update.tier
        ]


def scoring_input(item: ActivityItem) -> ScoringInput:
    """The model's input for a decoded activity event (``occurred_at`` as epoch microseconds)."""
    record = item.record
    occurred_at = record["occurred_at"]
    return ScoringInput(
        event_id=record["event_id"],
        type=record["type"],
        occurred_at_us=occurred_at if type(occurred_at) is int else to_micros(occurred_at),
        payload=record["payload"],
        partition=item.partition,
        offset=item.offset,
    )


def load_state(row: Row) -> EngagementState:
    """The engagement state kept in ``row`` (a new state for a candidate seen first)."""
    stored = row.get(ENGAGEMENT)
    return EngagementState.from_dict(stored) if stored else new_state()


def score_candidate(
    model: ScoringModel,
    candidate_id: str,
    stored: bytes | None,
    items: Iterable[ActivityItem],
) -> CandidateOutcome:
    """Apply ``items`` (in offset order) to the candidate's stored row; return the new row.

    Duplicates and too-late events change nothing but still yield the current record, so a
    redelivered event re-publishes the score (covering a crash that lost the earlier output).
    An event the model raises on (other than a :class:`ConfigError`, e.g. a state of another
    model version, which must stop the worker) is rejected for the dead-letter topic without
    its half-applied effects. ``record`` is None only when no event of a new candidate applied.
    Each applied event that is neither a duplicate nor too late is in ``events``, for the
    campaign engine; the row's other parts (profile, campaigns) are left as they were.
    """
    row = load_row(stored)
    state = load_state(row)
    outcome = CandidateOutcome(row=row, record=None)
    applied: list[ActivityItem] = []
    for item in items:
        try:
            update = apply_event(model, state, scoring_input(item))
        except ConfigError:
            raise
        except Exception as exc:  # the model refused this event: dead-letter it, go on
            outcome.rejected.append(RejectedItem(item, exc))
            row = load_row(stored)  # apply_event mutates the state's dicts, which are the row's
            state = _replay(model, row, applied)
            continue
        applied.append(item)
        if update.duplicate:
            outcome.duplicates += 1
        elif update.too_late:
            outcome.too_late += 1
        else:
            outcome.events.append(ScoredEvent(item.record, update))
    if state.last_activity_us is None:  # nothing applied to a new candidate
        return outcome
    row[ENGAGEMENT] = state.to_dict()
    outcome.row = row
    outcome.record = engagement_record(model, candidate_id, state, micros=True)
    return outcome


def _replay(model: ScoringModel, row: Row, applied: list[ActivityItem]) -> EngagementState:
    """The state before the batch with ``applied`` re-applied (drops a half-applied event)."""
    state = load_state(row)
    for item in applied:
        apply_event(model, state, scoring_input(item))
    return state
