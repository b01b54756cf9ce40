"""Apply one activity event to a candidate's engagement state: the hot path of the worker.

The score at time T is the sum over (type, UTC day) buckets of
``cap_share * sum(w_e * 2 ** (-(T - t_e) / half_life))`` with ``cap_share = min(n, cap) / n``,
over the events no more than ``horizon_days`` days older than the newest one (see
``docs/scoring.md`` for why this is independent of arrival order). Each call is O(1): it touches
one bucket and the per-type totals, rescaling the totals when the newest event time moves.

No wall clock, no datetime objects, no pydantic here: times are epoch microseconds (UTC).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from math import exp2
from typing import Any, NamedTuple

from schemas.timestamps import from_micros
from streams.scoring.config import ScoringModel
from streams.scoring.rules import DAY_US, CompiledModel, TypeRule
from streams.scoring.state import (
    BUCKET_WIDTH,
    EngagementState,
    StateModelMismatchError,
    id_token,
)


class ScoringInput(NamedTuple):
    """The part of an activity event the score needs (the worker builds it from the record).

    Named tuples, not frozen dataclasses, for this and :class:`Update`: both are built once per
    event, and a frozen dataclass costs three times as much to build.
    """

    event_id: str
    type: str
    #: When it happened: epoch microseconds, UTC (the Avro ``occurred_at`` long).
    occurred_at_us: int
    payload: Mapping[str, Any] | None
    #: Where it came from in candidate.activity (-1 when not from Kafka).
    partition: int = -1
    offset: int = -1


class Update(NamedTuple):
    """What one event did to the state.

    ``score`` and ``tier`` are as of ``as_of_us``: the newest event time of the candidate, which
    is the event's own time unless the event arrived late. ``previous_tier`` is the tier before
    this event (None for a candidate's first event). ``tier_changed`` compares with the tier
    before, a new candidate counting as in the lowest tier, so a first page view is no change
    but a first application that lands in a higher tier is. A duplicate or too-late event
    changes nothing: ``tier_changed`` is False and the score is the current one.
    """

    duplicate: bool
    too_late: bool
    score: float
    tier: str
    previous_tier: str | None
    tier_changed: bool
    as_of_us: int


def apply_event(model: ScoringModel, state: EngagementState, event: ScoringInput) -> Update:
    """Add ``event`` to ``state`` **in place** (for speed) and return what changed.

    Order-independent: the score and contributions after a set of events do not depend on the
    order they arrive in (late, out-of-order and duplicate events included). The tier is not:
    hysteresis remembers the path, by design. An event whose id is among the recent ids is a
    duplicate and one more than ``horizon_days`` UTC days older than the candidate's newest event
    is too late: neither changes the state.

    Raises :class:`StateModelMismatchError` when ``state`` was built by another model version,
    and ``TypeError``/``AttributeError`` for a malformed event (say a payload that is not a
    mapping); both before changing the state.
    """
    compiled = model.compiled
    if state.model_version != compiled.version and state.model_version is not None:
        raise StateModelMismatchError(state.model_version, compiled.version)
    occurred = event.occurred_at_us
    day = occurred // DAY_US
    rule = compiled.rules.get(event.type)
    weight = 0.0
    if rule is not None:
        weight = rule.weight if rule.field is None else rule.weight_of(event.payload)
    remembered = compiled.recent_ids
    token = id_token(event.event_id) if remembered else ""
    newest = state.last_activity_us
    if newest is not None:
        if remembered and state.has_seen(token):
            return _unchanged(compiled, state, newest, duplicate=True)
        if day < newest // DAY_US - compiled.horizon_days:
            return _unchanged(compiled, state, newest, duplicate=False)

    # Nothing below raises: the state changes completely or not at all.
    state.model_version = compiled.version
    if newest is None:
        newest = state.last_activity_us = occurred
    elif occurred > newest:
        _advance(compiled, state, newest, occurred)
        newest = occurred
    if remembered:
        state.remember(token, remembered)
    if rule is not None and weight > 0.0:
        _add_to_bucket(state, rule, occurred, weight, newest)

    state.last_event_id = event.event_id
    state.last_event_type = event.type
    state.source_partition = event.partition
    state.source_offset = event.offset

    before = state.tier
    index_before = 0 if before is None else compiled.tier_index[before]
    score = sum(state.totals.values())
    index = compiled.tier_after(index_before, score)
    tier = compiled.tier_names[index]
    state.previous_tier = before
    state.tier = tier
    return Update(False, False, max(score, 0.0), tier, before, index != index_before, newest)


def score_at(
    model: ScoringModel, state: EngagementState, at_us: int
) -> tuple[float, dict[str, float]]:
    """The score and per-type contributions of ``state`` at event time ``at_us`` (epoch µs).

    A time before the newest event counts as the newest event's time: the state keeps sums, not
    events, so it cannot leave out what happened after ``at_us``. A new state scores 0.
    """
    compiled = model.compiled
    newest = state.last_activity_us
    if newest is None:
        return 0.0, {}
    if state.model_version != compiled.version:
        raise StateModelMismatchError(str(state.model_version), compiled.version)
    if at_us <= newest:  # the totals are already decayed to the newest event (the hot path)
        # ``0.0 if total < 0.0 else total`` is ``max(total, 0.0)`` without the call.
        totals = state.totals.items()
        contributions = {event_type: 0.0 if total < 0.0 else total for event_type, total in totals}
        return sum(contributions.values()), contributions
    elapsed = at_us - newest
    rules = compiled.rules
    contributions = {
        event_type: max(total * exp2(-elapsed * rules[event_type].inv_half_life_us), 0.0)
        for event_type, total in state.totals.items()
    }
    return sum(contributions.values()), contributions


def tier_for(model: ScoringModel, current_tier: str | None, score: float) -> str:
    """The tier a candidate in ``current_tier`` (None: new) moves to at ``score``.

    For re-evaluating tiers without an event, e.g. a sweep that sees scores decay: pair it with
    :func:`score_at`. Uses the same hysteresis as :func:`apply_event`.
    """
    compiled = model.compiled
    current = 0 if current_tier is None else compiled.tier_index[current_tier]
    return compiled.tier_names[compiled.tier_after(current, score)]


def engagement_record(
    model: ScoringModel, candidate_id: str, state: EngagementState, *, micros: bool = False
) -> dict[str, Any]:
    """The Avro dict of the candidate's engagement record, as of the newest event time.

    Timestamps are aware UTC datetimes, or with ``micros`` the epoch microseconds the codec
    writes (the worker's hot path, which only encodes the record). Raises
    ``ValueError`` for a state without an applied event (there is nothing to report yet).
    """
    newest = state.last_activity_us
    if newest is None or state.last_event_id is None or state.last_event_type is None:
        raise ValueError(f"candidate {candidate_id}: no event applied yet, no engagement record")
    score, contributions = score_at(model, state, newest)
    as_of: Any = newest if micros else from_micros(newest)
    return {
        "candidate_id": candidate_id,
        "score": score,
        "tier": state.tier or model.tiers[0].name,
        "previous_tier": state.previous_tier,
        "as_of": as_of,
        "model_version": model.version,
        "contributions": contributions,
        "last_event_id": state.last_event_id,
        "last_event_type": state.last_event_type,
        "last_activity_at": as_of,
        "source_partition": state.source_partition,
        "source_offset": state.source_offset,
    }


def _unchanged(
    compiled: CompiledModel, state: EngagementState, newest: int, *, duplicate: bool
) -> Update:
    tier = state.tier or compiled.tier_names[0]
    score = max(sum(state.totals.values()), 0.0)
    return Update(duplicate, not duplicate, score, tier, tier, False, newest)


def _advance(compiled: CompiledModel, state: EngagementState, newest: int, occurred: int) -> None:
    """Move the reference time R from ``newest`` to the later ``occurred``.

    Decays every total to the new R and, when the horizon's first day moves, drops the days
    that left it.
    """
    elapsed = occurred - newest
    totals = state.totals
    inv_half_life_us = compiled.inv_half_life_us
    for event_type, total in totals.items():
        totals[event_type] = total * exp2(-elapsed * inv_half_life_us[event_type])
    state.last_activity_us = occurred
    first_kept_day = occurred // DAY_US - compiled.horizon_days
    if state.oldest_day is not None and state.oldest_day < first_kept_day:
        stale = [kind for kind, flat in state.buckets.items() if flat[0] < first_kept_day]
        for event_type in stale:
            _drop_days(compiled.rules[event_type], state, first_kept_day)
        buckets = state.buckets.values()
        state.oldest_day = min(flat[0] for flat in buckets) if buckets else None


def _bucket_at(flat: list[Any], day: int) -> int:
    """Index in ``flat`` of the first bucket whose day is >= ``day`` (``len(flat)`` if none)."""
    buckets = range(len(flat) // BUCKET_WIDTH)
    return BUCKET_WIDTH * bisect_left(buckets, day, key=lambda i: flat[i * BUCKET_WIDTH])


def _drop_days(rule: TypeRule, state: EngagementState, first_kept_day: int) -> None:
    """Drop the type's days before ``first_kept_day`` and recompute its total from the rest.

    Recomputing (rather than subtracting the dropped days) keeps the total exact: the dropped
    part may be most of it. It costs O(days of the type), at most once per UTC day that the
    newest event time enters, and only when a day falls out of the horizon.
    """
    event_type = rule.event_type
    flat = state.buckets[event_type]
    del flat[: _bucket_at(flat, first_kept_day)]
    if not flat:
        del state.buckets[event_type]
        del state.totals[event_type]
        return
    newest = state.last_activity_us
    assert newest is not None
    inv_half_life_us = rule.inv_half_life_us
    cap = rule.cap
    width = BUCKET_WIDTH
    total = 0.0
    for count, decayed, day_newest in zip(
        flat[1::width], flat[2::width], flat[3::width], strict=True
    ):
        share = decayed if count <= cap else decayed * cap / count
        total += share * exp2((day_newest - newest) * inv_half_life_us)
    state.totals[event_type] = total


def _add_to_bucket(
    state: EngagementState, rule: TypeRule, occurred: int, weight: float, newest: int
) -> None:
    """Count one event in its (type, UTC day) bucket and move the type's total by the change.

    A bucket keeps its decayed sum relative to its own newest event, so every factor is <= 1
    (nothing overflows for any half-life); its contribution at the row's reference time
    ``newest`` is ``cap_share * sum * 2 ** (-(newest - bucket_newest) / half_life)``.
    """
    event_type = rule.event_type
    inv_half_life_us = rule.inv_half_life_us
    day = occurred // DAY_US
    if state.oldest_day is None or day < state.oldest_day:
        state.oldest_day = day
    flat = state.buckets.get(event_type)
    if flat is None:
        state.buckets[event_type] = [day, 1, weight, occurred]
        state.totals[event_type] = weight * exp2((occurred - newest) * inv_half_life_us)
        return
    at = len(flat) - BUCKET_WIDTH  # the type's newest day: where most events go
    if flat[at] != day:
        at = len(flat) if flat[at] < day else _bucket_at(flat, day)
        if at == len(flat) or flat[at] != day:  # the type's first event of that day
            flat[at:at] = (day, 1, weight, occurred)
            state.totals[event_type] += weight * exp2((occurred - newest) * inv_half_life_us)
            return

    cap = rule.cap
    count = flat[at + 1]
    decayed = flat[at + 2]
    day_newest = flat[at + 3]
    before = decayed if count <= cap else decayed * cap / count
    if day_newest != newest:
        before *= exp2((day_newest - newest) * inv_half_life_us)
    if occurred > day_newest:
        decayed = decayed * exp2((day_newest - occurred) * inv_half_life_us) + weight
        day_newest = occurred
    else:
        decayed += weight * exp2((occurred - day_newest) * inv_half_life_us)
    count += 1
    after = decayed if count <= cap else decayed * cap / count
    if day_newest != newest:
        after *= exp2((day_newest - newest) * inv_half_life_us)
    flat[at + 1] = count
    flat[at + 2] = decayed
    flat[at + 3] = day_newest
    state.totals[event_type] += after - before
