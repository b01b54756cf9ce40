"""What a replay did, counted; mergeable across processes and JSON-safe for the shadow summary.

The numbers come from the worker's own Prometheus counters (the replay runs the worker's
processors with a private registry), read back with :meth:`ReplayCounts.absorb`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Plain totals, in the order they are printed.
TOTALS = (
    "scored",
    "duplicates",
    "too_late",
    "dead_lettered",
    "wrong_partition",
    "erased",
    "profiles",
    "erasures",
    "timer_wakeups",
)

#: What to do about records a replay found on the wrong partition (printed with the counts).
WRONG_PARTITION_ADVICE = (
    "records on a partition their key does not hash to (murmur2) were not replayed: a producer "
    "with another partitioner wrote them (docs/integrations.md, the partitioner trap), or "
    "partitions were added to the topic since. Those the worker dead-lettered are in the .dlq "
    "topics (`nurture dlq redrive --error WrongPartitionError`); a worker older than the check "
    "processed them where they were and dead-lettered none: copy the topic through `nurture "
    "topics export | nurture topics import` into fresh topics (import partitions with murmur2)"
)

#: (metric sample name, outcome label) -> total it feeds.
_BY_OUTCOME = {
    ("nurture_worker_events_total", "scored"): "scored",
    ("nurture_worker_events_total", "duplicate"): "duplicates",
    ("nurture_worker_events_total", "too_late"): "too_late",
    ("nurture_worker_events_total", "dead_lettered"): "dead_lettered",
    ("nurture_worker_events_total", "erased"): "erased",
    ("nurture_worker_profile_records_total", "profile"): "profiles",
    ("nurture_worker_profile_records_total", "erasure"): "erasures",
    ("nurture_worker_profile_records_total", "dead_lettered"): "dead_lettered",
    ("nurture_worker_profile_records_total", "erased"): "erased",
}


@dataclass
class ReplayCounts:
    """Totals of one replay (or of one process's share of it)."""

    #: Records read (activity + profile), warm-up included.
    records: int = 0
    scored: int = 0
    duplicates: int = 0
    too_late: int = 0
    #: Records the live worker dead-letters; a replay never dead-letters them again
    #: (`nurture dlq` has them from the first time).
    dead_lettered: int = 0
    #: Of those, records on a partition their key does not hash to. A worker older than the
    #: check processed such records where they were (and dead-lettered none), so a replay that
    #: finds some says so: their events count only once re-published (WRONG_PARTITION_ADVICE).
    wrong_partition: int = 0
    #: Records dropped because their candidate was erased.
    erased: int = 0
    profiles: int = 0
    erasures: int = 0
    timer_wakeups: int = 0
    #: Actions emitted per (campaign, channel), suppressed per (campaign, reason), held per
    #: campaign: decisions inside the replayed window only (not the warm-up).
    emitted: Counter[tuple[str, str]] = field(default_factory=Counter)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)

    def absorb(self, sample: str, labels: Mapping[str, str], value: int) -> None:
        """Take one sample of the worker's metrics into these counts."""
        total = _BY_OUTCOME.get((sample, labels.get("outcome", "")))
        if total is not None:
            setattr(self, total, getattr(self, total) + value)
        elif sample == "nurture_worker_records_on_wrong_partition_total":
            self.wrong_partition += value
        elif sample == "nurture_worker_timer_wakeups_total":
            self.timer_wakeups += value
        elif sample == "nurture_actions_emitted_total" and value:
            self.emitted[(labels["campaign"], labels["channel"])] += value
        elif sample == "nurture_actions_suppressed_total" and value:
            self.suppressed[(labels["campaign"], labels["reason"])] += value
        elif sample == "nurture_actions_held_total" and value:
            self.held[labels["campaign"]] += value

    def add(self, other: ReplayCounts) -> None:
        """Add ``other``'s totals to these."""
        self.records += other.records
        for name in TOTALS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.emitted.update(other.emitted)
        self.suppressed.update(other.suppressed)
        self.held.update(other.held)

    def minus(self, before: ReplayCounts) -> ReplayCounts:
        """These counts less ``before`` (the totals at the start of the window)."""
        result = ReplayCounts(records=self.records)
        for name in TOTALS:
            setattr(result, name, getattr(self, name) - getattr(before, name))
        result.emitted = +(self.emitted - before.emitted)
        result.suppressed = +(self.suppressed - before.suppressed)
        result.held = +(self.held - before.held)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            **{name: getattr(self, name) for name in TOTALS},
            "emitted": [[c, ch, n] for (c, ch), n in sorted(self.emitted.items())],
            "suppressed": [[c, r, n] for (c, r), n in sorted(self.suppressed.items())],
            "held": [[c, n] for c, n in sorted(self.held.items())],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplayCounts:
        counts = cls(records=int(data.get("records", 0)))
        for name in TOTALS:
            setattr(counts, name, int(data.get(name, 0)))
        counts.emitted.update({(c, ch): n for c, ch, n in data.get("emitted", [])})
        counts.suppressed.update({(c, r): n for c, r, n in data.get("suppressed", [])})
        counts.held.update({c: n for c, n in data.get("held", [])})
        return counts
