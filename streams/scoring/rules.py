"""A :class:`~streams.scoring.config.ScoringModel` as plain lookup tables for the hot path.

Pydantic attribute access and nested models cost far more than a dict lookup, so
``apply_event`` reads these instead: one :class:`TypeRule` per weighted event type with its
half-life already in reciprocal microseconds, and the tier thresholds as tuples. The model
builds them (``ScoringModel.compiled``); this module does not know the model, so the two do not
import each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Microseconds in a UTC day (buckets and the horizon count whole days since the epoch).
DAY_US = 86_400_000_000


class TypeRule:
    """How one event type scores: weight, payload refinement, decay and daily cap."""

    __slots__ = ("cap", "event_type", "field", "inv_half_life_us", "weight", "weight_by_value")

    def __init__(  # noqa: PLR0913 - keyword-only fields of a compiled value object
        self,
        event_type: str,
        *,
        weight: float,
        half_life_days: float,
        cap: float,
        field: str | None,
        weight_by_value: Mapping[str, float],
    ) -> None:
        self.event_type = event_type
        #: Base weight: score points of one event at the moment it happens.
        self.weight = weight
        #: 1 / half-life in microseconds: decay factor over dt µs is exp2(-dt * inv_half_life_us).
        self.inv_half_life_us = 1.0 / (half_life_days * DAY_US)
        #: Most events counted per UTC day (``math.inf`` when uncapped).
        self.cap = cap
        #: Payload field that refines the weight, if any, and the weight of each of its values.
        self.field = field
        self.weight_by_value = dict(weight_by_value)

    def weight_of(self, payload: Mapping[str, Any] | None) -> float:
        """The weight of one event of this type with ``payload``."""
        if self.field is None or not payload:
            return self.weight
        value = payload.get(self.field)
        if value is None:
            return self.weight
        return self.weight_by_value.get(value, self.weight)


class CompiledModel:
    """Everything ``apply_event`` needs from a model, as slots, dicts and tuples."""

    __slots__ = (
        "demote_below",
        "horizon_days",
        "inv_half_life_us",
        "recent_ids",
        "rules",
        "thresholds",
        "tier_index",
        "tier_names",
        "version",
    )

    def __init__(  # noqa: PLR0913 - keyword-only fields of a compiled value object
        self,
        version: str,
        *,
        rules: dict[str, TypeRule],
        tiers: Sequence[tuple[str, float]],
        hysteresis: float,
        horizon_days: int,
        recent_ids: int,
    ) -> None:
        self.version = version
        #: Rules of the types with a weight; other types score nothing.
        self.rules = rules
        #: Event type -> 1 / half-life in µs, for rescaling all totals at once.
        self.inv_half_life_us = {name: rule.inv_half_life_us for name, rule in rules.items()}
        self.tier_names = tuple(name for name, _ in tiers)
        self.tier_index = {name: index for index, name in enumerate(self.tier_names)}
        #: Score at which each tier is entered from below.
        self.thresholds = tuple(min_score for _, min_score in tiers)
        #: Score below which each tier is left downwards (threshold minus the hysteresis margin).
        self.demote_below = tuple(value * (1.0 - hysteresis) for value in self.thresholds)
        self.horizon_days = horizon_days
        self.recent_ids = recent_ids

    def tier_after(self, current: int, score: float) -> int:
        """Index of the tier for ``score`` when the candidate is in tier ``current`` now.

        Promotion is immediate: the highest tier whose threshold the score reaches. Demotion
        needs the score to fall below the current tier's ``demote_below``, and then goes to the
        highest lower tier whose ``demote_below`` the score still reaches, so a score hovering
        at a threshold changes tier once instead of flapping.
        """
        thresholds = self.thresholds
        reached = len(thresholds) - 1
        while reached > 0 and score < thresholds[reached]:
            reached -= 1
        if reached >= current:
            return reached
        demote_below = self.demote_below
        while current > 0 and score < demote_below[current]:
            current -= 1
        return current
