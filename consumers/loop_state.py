"""What the delivery loop last saw, for its state dump (SIGUSR1 prints it after the stacks).

The loop records its group membership, positions and commits as it goes; :meth:`LoopSnapshot.
lines` formats them without calling the consumer (the dump runs in a signal handler, while the
loop may hold the consumer's lock). A chaos run that stopped committing asks every process for
this dump: it tells a consumer that never committed from one whose commits were refused or one
stuck in a rebalance.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata


@dataclass
class LoopSnapshot:
    """The delivery loop's own account of its last turns."""

    #: Assigned partition -> (position, high watermark), None before its first fetch came
    #: back, as of the last poll.
    positions: dict[TopicPartition, tuple[int, int] | None] = field(default_factory=dict)
    group: Any = None
    polls: int = 0
    records: int = 0
    last_poll_at: float | None = None
    commits: int = 0
    last_commit_at: float | None = None
    last_committed: dict[TopicPartition, int] = field(default_factory=dict)
    refused: int = 0
    #: Times the loop left and joined the group again (a rebalance that did not end).
    rejoins: int = 0
    last_refusal: str | None = None

    def polled(self, group: Any) -> None:
        self.group = group
        self.polls += 1
        self.last_poll_at = time.monotonic()

    def fetched(self, records: int) -> None:
        self.records += records

    def rejoined(self) -> None:
        self.rejoins += 1

    def committed(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits += 1
        self.last_commit_at = time.monotonic()
        self.last_committed.update({tp: o.offset for tp, o in offsets.items()})

    def commit_refused(self, exc: BaseException) -> None:
        self.refused += 1
        self.last_refusal = f"{type(exc).__name__}: {exc}"

    def lines(self, pending: Mapping[TopicPartition, OffsetAndMetadata]) -> list[str]:
        now = time.monotonic()
        lines = [
            "-- delivery loop --",
            f"group: {self.group!r}",
            f"polls {self.polls}, records {self.records}, last poll {_ago(self.last_poll_at, now)}"
            f", rejoins {self.rejoins}",
            f"commits {self.commits}, last {_ago(self.last_commit_at, now)}; "
            f"refused {self.refused}, last refusal: {self.last_refusal or '-'}",
            f"pending commits: {_offsets({tp: o.offset for tp, o in pending.items()}) or '-'}",
        ]
        for tp, seen in sorted(self.positions.items()):
            committed = self.last_committed.get(tp)
            where = "not fetched yet" if seen is None else f"position {seen[0]} highwater {seen[1]}"
            lines.append(
                f"  {tp.topic}[{tp.partition}] {where} "
                f"committed here {committed if committed is not None else '-'}"
            )
        if not self.positions:
            lines.append("  no partitions assigned")
        return lines


def _ago(at: float | None, now: float) -> str:
    return "never" if at is None else f"{now - at:.1f}s ago"


def _offsets(offsets: Mapping[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]={o}" for tp, o in sorted(offsets.items()))
