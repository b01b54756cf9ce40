"""The score computed the slow, obvious way: straight from the definition, over all events.

For tests and audits only (O(events) per call): :func:`~streams.scoring.update.apply_event` must
agree with it whatever order the events arrive in. The definition, for a set of events and a
time ``at_us`` no earlier than the newest event M:

1. Events with an id seen before count once (the first copy; copies are identical).
2. Events more than ``horizon_days`` UTC days before M's day are left out, as are events whose
   type has no weight or whose weight is 0.
3. The rest are grouped by (type, UTC day). A group of n events of a type capped at ``cap``
   contributes ``min(n, cap) / n * sum(w_e * 2 ** (-(at - t_e) / half_life))``.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.scoring.config import ScoringModel
from streams.scoring.rules import DAY_US
from streams.scoring.update import ScoringInput


def reference_contributions(
    model: ScoringModel, events: Iterable[ScoringInput], at_us: int | None = None
) -> dict[str, float]:
    """Per-type score contributions of ``events`` at ``at_us`` (default: the newest event time)."""
    unique: dict[str, ScoringInput] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return {}
    newest = max(event.occurred_at_us for event in unique.values())
    at = newest if at_us is None or at_us < newest else at_us
    first_day = newest // DAY_US - model.horizon_days
    groups: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for event in unique.values():
        rule = model.compiled.rules.get(event.type)
        day = event.occurred_at_us // DAY_US
        if rule is None or day < first_day:
            continue
        weight = rule.weight_of(event.payload)
        if weight > 0:
            groups.setdefault((event.type, day), []).append((weight, event.occurred_at_us))
    contributions: dict[str, float] = {}
    for (event_type, _), members in groups.items():
        half_life_us = model.half_life_of(event_type) * DAY_US
        cap = model.daily_caps.get(event_type)
        share = 1.0 if cap is None or len(members) <= cap else cap / len(members)
        decayed = sum(
            weight * 2.0 ** (-(at - occurred) / half_life_us) for weight, occurred in members
        )
        contributions[event_type] = contributions.get(event_type, 0.0) + share * decayed
    return contributions
