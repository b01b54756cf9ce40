"""Run the engine over a JSON-lines file of profiles and events, as the worker would, offline.

The file is the simulator's format (``producers/simulate/output.py``): one
``{"subject": ..., "record": {...}}`` per line, subjects ``candidate_profile``,
``activity_event`` and ``erasure_request``. Records are taken in event-time order (events by
``occurred_at``, profiles by ``updated_at``, ties in file order): the simulator back-dates
interleaved journeys, so its file order is not time order. Each event is scored with the
scoring model (giving tier changes), then decided; before each record, timers due up to its
time are fired through a :class:`~streams.campaigns.timers.TimerIndex`, so waits and quiet
hours play out in event time. Nothing is emitted anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from schemas.errors import ConfigError
from schemas.models import parse_erasure_request, parse_event, parse_profile
from schemas.timestamps import to_micros
from streams.campaigns.engine import Decision, Engine
from streams.campaigns.run import StepOutcome
from streams.campaigns.timers import TimerIndex
from streams.campaigns.view import CandidateView, EventView, TierChange, candidate_view
from streams.scoring import EngagementState, ScoringInput, ScoringModel, apply_event, new_state

_TIME_FIELD = {
    "activity_event": "occurred_at",
    "candidate_profile": "updated_at",
    "erasure_request": "requested_at",
}


@dataclass
class _Candidate:
    engagement: EngagementState = field(default_factory=new_state)
    profile: dict[str, Any] | None = None
    campaigns: dict[str, Any] | None = None
    erased: bool = False


@dataclass
class SimulationResult:
    """Every step outcome in decision order, and what was read."""

    outcomes: list[StepOutcome] = field(default_factory=list)
    profiles: int = 0
    events: int = 0
    skipped_events: int = 0
    end_us: int | None = None


def read_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The (subject, record) pairs of a JSON-lines file; ConfigError names a bad line."""
    pairs = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                subject, record = item["subject"], item["record"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: not a simulator line: {exc}") from None
            if subject not in _TIME_FIELD:
                raise ConfigError(f"{path}:{number}: unknown subject {subject!r}")
            pairs.append((subject, record))
    return pairs


def simulate(
    engine: Engine,
    model: ScoringModel,
    records: Iterable[tuple[str, dict[str, Any]]],
    *,
    run_on_us: int = 0,
) -> SimulationResult:
    """Decide on ``records`` in event-time order; then run timers ``run_on_us`` past the end."""
    replay = _Replay(engine, model)
    now = None
    for at, subject, record in _in_time_order(records):
        now = at if now is None else max(now, at)
        replay.tick(now)
        if subject == "candidate_profile":
            replay.profile(record, at)
        elif subject == "erasure_request":
            replay.erasure(record, at)
        else:
            replay.event(record, at)
    if now is not None:
        replay.result.end_us = now + run_on_us
        # + one bucket: take_due reads completed buckets only.
        replay.tick(now + run_on_us + replay.index.bucket_us)
    return replay.result


def _in_time_order(
    records: Iterable[tuple[str, dict[str, Any]]],
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    parse = {
        "candidate_profile": parse_profile,
        "erasure_request": parse_erasure_request,
        "activity_event": parse_event,
    }
    timed = []
    for position, (subject, raw) in enumerate(records):
        record = parse[subject](raw).model_dump()
        timed.append((to_micros(record[_TIME_FIELD[subject]]), position, subject, record))
    timed.sort(key=lambda item: (item[0], item[1]))
    for at, _, subject, record in timed:
        yield at, subject, record


class _Replay:
    """Candidate rows and the timer index of one simulation: what the worker keeps in tables."""

    def __init__(self, engine: Engine, model: ScoringModel) -> None:
        self.engine = engine
        self.model = model
        self.index = TimerIndex({})
        self.rows: dict[str, _Candidate] = {}
        self.result = SimulationResult()

    def tick(self, now: int) -> None:
        """Fire every timer due before ``now`` (as many index reads as it takes)."""
        while True:
            for candidate_id in self.index.take_due(now):
                row = self.rows[candidate_id]
                decision = self.engine.on_timer(row.campaigns, _view(candidate_id, row), now)
                self._apply(candidate_id, row, decision)
            if not self.index.behind(now):
                return

    def profile(self, record: dict[str, Any], at: int) -> None:
        self.result.profiles += 1
        candidate_id = record["candidate_id"]
        row = self.rows.setdefault(candidate_id, _Candidate())
        before = _view(candidate_id, row) if row.profile is not None else None
        row.profile, row.erased = record, False
        after = _view(candidate_id, row)
        self._apply(
            candidate_id, row, self.engine.on_profile_change(row.campaigns, after, before, at_us=at)
        )

    def erasure(self, record: dict[str, Any], at: int) -> None:
        candidate_id = record["candidate_id"]
        row = self.rows.setdefault(candidate_id, _Candidate())
        decision = self.engine.on_erasure(row.campaigns, candidate_id, at)
        row.profile, row.erased = None, True
        self._apply(candidate_id, row, decision)

    def event(self, record: dict[str, Any], at: int) -> None:
        self.result.events += 1
        candidate_id = record["candidate_id"]
        row = self.rows.setdefault(candidate_id, _Candidate())
        scoring = ScoringInput(record["event_id"], record["type"], at, record["payload"])
        update = apply_event(self.model, row.engagement, scoring)
        if update.duplicate or update.too_late:
            self.result.skipped_events += 1
            return
        change = TierChange(update.previous_tier, update.tier) if update.tier_changed else None
        event = EventView(record["event_id"], record["type"], at, record["payload"])
        decision = self.engine.on_event(
            row.campaigns, _view(candidate_id, row), event, tier_change=change
        )
        self._apply(candidate_id, row, decision)

    def _apply(self, candidate_id: str, row: _Candidate, decision: Decision) -> None:
        """What the worker does with a decision (minus publishing the actions)."""
        row.campaigns = decision.state
        for due in decision.timers_cleared:
            self.index.remove(candidate_id, due)
        for due in decision.timers_set:
            self.index.add(candidate_id, due)
        self.result.outcomes.extend(decision.outcomes)


def _view(candidate_id: str, row: _Candidate) -> CandidateView:
    return candidate_view(
        candidate_id,
        row.profile,
        tier=row.engagement.tier,
        model_version=row.engagement.model_version or "unscored",
        erased=row.erased,
    )
