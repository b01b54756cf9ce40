"""Commit progress over time (pure): recovery after a kill, stuck partitions, percentiles.

A :class:`Snapshot` is what :mod:`deploy.chaos.watch` saw at one moment: per source partition the
consumer group's committed offset and the partition's end offset. From a run's snapshots:

* **recovery after a kill** is the time from the kill until every partition that had records
  waiting at the kill has committed beyond where it stood then (its committed offset at the
  first look after the kill, so a commit made just before the kill does not count as
  recovery): the killed process's partitions
  stand still until the group notices it is gone (the session timeout), rebalances and the new
  owner has restored the table; the others' partitions move on at once;
* a partition is **stuck** when records wait on it at the end and its committed offset did not
  move during the last ``window_s`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple


class PartitionId(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


class Position(NamedTuple):
    """A group's committed offset on a partition, and the partition's end offset."""

    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class Snapshot:
    """Positions of the watched partitions at monotonic time ``at`` (seconds)."""

    at: float
    positions: Mapping[PartitionId, Position]

    def committed_total(self) -> int:
        """Committed offsets summed over every partition (it grows with any progress)."""
        return sum(pos.committed for pos in self.positions.values())

    def lag(self, topics: Collection[str] | None = None) -> int:
        """Records waiting on the partitions of ``topics`` (None: all)."""
        return sum(
            pos.lag for pid, pos in self.positions.items() if topics is None or pid.topic in topics
        )


def recovery_time(
    kill_at: float, snapshots: Sequence[Snapshot], topics: Collection[str]
) -> float | None:
    """Seconds from ``kill_at`` until every partition of ``topics`` that had records waiting at
    the kill committed past its offset then (``snapshots`` in time order).

    None when it cannot be measured: no snapshot at or before the kill, nothing was waiting, or
    the snapshots end before every such partition moved.
    """
    before = [s for s in snapshots if s.at <= kill_at]
    after = [s for s in snapshots if s.at > kill_at]
    if not before or not after:
        return None
    at_kill = before[-1].positions
    # Where each waiting partition stood: at the first look after the kill, when that is later
    # (the killed process may have committed between the last look and its death; that commit
    # is not the recovery).
    first = after[0].positions
    waiting = {
        pid: max(pos.committed, first[pid].committed if pid in first else pos.committed)
        for pid, pos in at_kill.items()
        if pid.topic in topics and pos.lag > 0
    }
    if not waiting:
        return None
    for snapshot in after[1:]:
        moved = all(
            pid in snapshot.positions and snapshot.positions[pid].committed > committed
            for pid, committed in waiting.items()
        )
        if moved:
            return snapshot.at - kill_at
    return None


def stuck_partitions(
    snapshots: Sequence[Snapshot], window_s: float
) -> list[tuple[PartitionId, Position]]:
    """Partitions with records waiting in the last snapshot whose committed offset did not
    change during the last ``window_s`` seconds (compared with the latest snapshot at least that
    old, or the first one when the run was shorter), sorted by partition."""
    if not snapshots:
        return []
    last = snapshots[-1]
    old = [s for s in snapshots if s.at <= last.at - window_s]
    since = old[-1] if old else snapshots[0]
    stuck = []
    for pid, pos in last.positions.items():
        earlier = since.positions.get(pid)
        if pos.lag > 0 and (earlier is None or earlier.committed == pos.committed):
            stuck.append((pid, pos))
    return sorted(stuck)


def longest_stall(snapshots: Sequence[Snapshot], topics: Collection[str] | None = None) -> float:
    """The longest time (seconds) during which records waited on ``topics`` (None: all) and no
    committed offset of them moved: how long the pipeline made no progress at all."""
    longest, since, last = 0.0, None, None
    for snapshot in snapshots:
        committed = sum(
            pos.committed
            for pid, pos in snapshot.positions.items()
            if topics is None or pid.topic in topics
        )
        if since is None or committed != last or snapshot.lag(topics) == 0:
            since, last = snapshot.at, committed
            continue
        longest = max(longest, snapshot.at - since)
    return longest


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 < q <= 100) by nearest rank; None for no values."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(round(q / 100 * len(ordered), 9))
    return ordered[max(0, rank - 1)]
