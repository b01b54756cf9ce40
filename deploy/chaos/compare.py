"""The chaos run's outcome against the reference run's (pure).

A candidate differs when its last engagement record or its last suppression record is not equal
in both runs (a candidate present on one side only differs too). Actions are compared as sets of
ids: *missing* ones the reference decided and the chaos run did not (lost work), *extra* ones the
chaos run decided and the reference did not (work done differently, e.g. twice with a different
outcome, or against a stale profile).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploy.chaos.outcome import Outcome

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Difference:
    """One candidate's record on ``topic`` in both runs (None: no record / a tombstone)."""

    candidate_id: str
    topic: str
    reference: Record | None
    chaos: Record | None

    def fields(self) -> list[str]:
        """The fields whose values differ (every field when one side has no record)."""
        ref, got = self.reference or {}, self.chaos or {}
        return sorted(k for k in set(ref) | set(got) if ref.get(k) != got.get(k))

    def summary(self) -> str:
        """One line: what the reference has, what the chaos run has, which fields differ."""
        return (
            f"{self.candidate_id} on {self.topic}: reference {_brief(self.reference)}; "
            f"chaos {_brief(self.chaos)}; fields {', '.join(self.fields())}"
        )


@dataclass(frozen=True)
class Comparison:
    """What differs between the two outcomes (empty tuples: nothing)."""

    #: candidates with a record on either side, in either run
    candidates: int
    engagement: tuple[str, ...]
    suppression: tuple[str, ...]
    missing_actions: tuple[str, ...]
    extra_actions: tuple[str, ...]
    #: a few differences to show (engagement first)
    examples: tuple[Difference, ...]

    @property
    def differing_candidates(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.engagement) | set(self.suppression)))

    @property
    def clean(self) -> bool:
        return not (
            self.engagement or self.suppression or self.missing_actions or self.extra_actions
        )


def compare(reference: Outcome, chaos: Outcome, *, examples: int = 2) -> Comparison:
    """The differences between ``reference`` and ``chaos`` (see the module docstring)."""
    engagement = _differing(reference.engagement, chaos.engagement)
    suppression = _differing(reference.suppression, chaos.suppression)
    shown = [
        Difference(
            cid, "candidate.engagement", reference.engagement.get(cid), chaos.engagement.get(cid)
        )
        for cid in engagement[:examples]
    ]
    shown += [
        Difference(
            cid, "candidate.suppression", reference.suppression.get(cid), chaos.suppression.get(cid)
        )
        for cid in suppression[: max(0, examples - len(shown))]
    ]
    candidates = (
        set(reference.engagement)
        | set(chaos.engagement)
        | set(reference.suppression)
        | set(chaos.suppression)
    )
    return Comparison(
        candidates=len(candidates),
        engagement=engagement,
        suppression=suppression,
        missing_actions=tuple(sorted(reference.actions.keys() - chaos.actions.keys())),
        extra_actions=tuple(sorted(chaos.actions.keys() - reference.actions.keys())),
        examples=tuple(shown),
    )


def _differing(
    reference: Mapping[str, Record | None], chaos: Mapping[str, Record | None]
) -> tuple[str, ...]:
    return tuple(
        sorted(
            cid
            for cid in set(reference) | set(chaos)
            if cid not in reference or cid not in chaos or reference[cid] != chaos[cid]
        )
    )


def _brief(record: Record | None) -> str:
    """The telling fields of an engagement or suppression record, or ``none``."""
    if record is None:
        return "none"
    if "score" in record:
        return (
            f"score {float(record['score']):.3f} {record.get('tier')}, last event "
            f"{record.get('last_event_id')} at [{record.get('source_partition')}]"
            f"@{record.get('source_offset')}"
        )
    return f"unsubscribed {sorted(record.get('unsubscribed') or {})}"
