"""What a replay did, counted; mergeable across processes and JSON-safe for the shadow summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReplayCounts:
    """Totals of one replay (or of one process's share of it)."""

    activity_records: int = 0
    profile_records: int = 0
    scored: int = 0
    duplicates: int = 0
    too_late: int = 0
    #: Records the live worker dead-letters (undecodable, wrong key, refused by the model);
    #: a replay counts them and never dead-letters them again (`nurture dlq` has them).
    dead_lettered: int = 0
    erasures: int = 0
    #: Actions emitted per (campaign, channel), suppressed per (campaign, reason), held per
    #: campaign: only decisions inside the replayed window (not the warm-up).
    emitted: Counter[tuple[str, str]] = field(default_factory=Counter)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)

    @property
    def records(self) -> int:
        return self.activity_records + self.profile_records

    def add(self, other: ReplayCounts) -> None:
        """Add ``other``'s totals to these."""
        for name in _TOTALS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.emitted.update(other.emitted)
        self.suppressed.update(other.suppressed)
        self.held.update(other.held)

    def to_dict(self) -> dict[str, Any]:
        return {
            "activity_records": self.activity_records,
            "profile_records": self.profile_records,
            "scored": self.scored,
            "duplicates": self.duplicates,
            "too_late": self.too_late,
            "dead_lettered": self.dead_lettered,
            "erasures": self.erasures,
            "emitted": [[c, ch, n] for (c, ch), n in sorted(self.emitted.items())],
            "suppressed": [[c, r, n] for (c, r), n in sorted(self.suppressed.items())],
            "held": [[c, n] for c, n in sorted(self.held.items())],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplayCounts:
        counts = cls()
        for name in _TOTALS:
            setattr(counts, name, int(data.get(name, 0)))
        counts.emitted.update({(c, ch): n for c, ch, n in data.get("emitted", [])})
        counts.suppressed.update({(c, r): n for c, r, n in data.get("suppressed", [])})
        counts.held.update({c: n for c, n in data.get("held", [])})
        return counts


_TOTALS = (
    "activity_records",
    "profile_records",
    "scored",
    "duplicates",
    "too_late",
    "dead_lettered",
    "erasures",
)
