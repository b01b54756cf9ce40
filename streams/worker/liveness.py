"""Liveness: a worker that stops committing while records wait must not look healthy.

Two guards. (1) An agent whose batch raises is a bug we cannot skip safely, so the process exits
at once with :data:`EXIT_AGENT_CRASHED` (``os._exit``: no ``finally`` runs, so faust cannot ack
or commit the failed batch) and the supervisor restarts it; the batch is processed again.
(2) :class:`CommitWatch` checks every few seconds whether the committed offsets of the assigned
source partitions advanced; when records have waited longer than the stall timeout without a
commit (and no rebalance or table recovery is running), the process exits with
:data:`EXIT_STALLED`. (3) The same watch bounds a rebalance's membership part (from the
revocation until faust's assignment is done; table recovery comes after it and is not bounded):
a worker stuck there longer than the broker's rebalance timeout plus its session timeout was
dropped from the group by then and would hold nothing, so it exits with :data:`EXIT_STALLED`
too, and rejoins when restarted. ``GET /v1/health`` reports the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from schemas.stack_dump import print_tasks

log = logging.getLogger(__name__)

#: Exit status when an agent raised (EX_SOFTWARE).
EXIT_AGENT_CRASHED = 70
#: Exit status when offsets stopped advancing while records were waiting (EX_TEMPFAIL).
EXIT_STALLED = 75


def crash_process(reason: str, code: int = EXIT_AGENT_CRASHED) -> None:
    """Log ``reason`` and end the process now, without committing anything more. A stall
    first writes what every asyncio task waits in (what a stall is to be explained by)."""
    log.critical("exiting with status %d: %s", code, reason)
    if code == EXIT_STALLED:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to show
            print_tasks(asyncio.get_running_loop())
    sys.stderr.write(f"nurture worker: exiting with status {code}: {reason}\n")
    sys.stderr.flush()
    os._exit(code)


@dataclass
class CommitWatch:
    """Commit progress of one worker's source partitions (``app`` is the faust app)."""

    app: Any
    source_topics: frozenset[str]
    stall_timeout_s: float
    #: Longest a rebalance may take until its assignment is done (None: not bounded).
    rebalance_limit_s: float | None = None
    last_progress: float = field(default_factory=time.monotonic)
    _last_committed: dict[Any, int] = field(default_factory=dict)
    #: faust's count of rebalances begun (``app.rebalancing_count``) when its last assignment
    #: was done, and when the watch first saw the count it waits on now.
    _joined: int = 0
    _begun: tuple[int, float] | None = None

    async def assigned(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        """faust's ``on_partitions_assigned`` signal: this rebalance's membership part is done."""
        self._joined = self.app.rebalancing_count

    def rebalance_stuck(self, now: float | None = None) -> float | None:
        """Seconds the current rebalance has waited for its assignment, once past the limit;
        None while within it (or with no rebalance waiting)."""
        now = time.monotonic() if now is None else now
        begun = self.app.rebalancing_count
        if begun <= self._joined or self.app.should_stop:
            # (A rebalance that begins while faust stops never reaches an assignment.)
            self._begun = None
            return None
        if self._begun is None or self._begun[0] != begun:
            self._begun = (begun, now)
        waited = now - self._begun[1]
        limit = self.rebalance_limit_s
        return waited if limit is not None and waited > limit else None

    def lag(self) -> dict[str, int]:
        """Records waiting per assigned source partition (``topic:partition`` -> count). A
        partition whose high watermark is not known yet (assigned, no fetch answered: under
        load that lasts seconds) is left out: nothing is known to wait there."""
        committed = self.app.monitor.tp_committed_offsets
        consumer = self.app.consumer
        waiting: dict[str, int] = {}
        for tp in consumer.assignment():
            if tp.topic not in self.source_topics or tp not in committed:
                continue
            high = consumer.highwater(tp)
            if high is not None:
                waiting[f"{tp.topic}:{tp.partition}"] = max(0, high - committed[tp])
        return waiting

    def busy(self) -> bool:
        """True while a rebalance or a table recovery runs (no commits expected then)."""
        recovery = self.app.tables.recovery
        return bool(self.app.rebalancing or recovery.in_recovery)

    def check(self, now: float | None = None) -> bool:
        """Record progress; False when the worker has stalled past the timeout."""
        now = time.monotonic() if now is None else now
        committed = dict(self.app.monitor.tp_committed_offsets)
        lag = self.lag()
        if committed != self._last_committed or not any(lag.values()) or self.busy():
            self._last_committed = committed
            self.last_progress = now
        return now - self.last_progress <= self.stall_timeout_s

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/health`` returns."""
        age = time.monotonic() - self.last_progress
        return {
            "status": "ok" if age <= self.stall_timeout_s else "stalled",
            "seconds_since_progress": round(age, 3),
            "stall_timeout_s": self.stall_timeout_s,
            "lag": self.lag(),
            "rebalancing_or_recovering": self.busy(),
            "rebalance_seconds": (
                None if self._begun is None else round(time.monotonic() - self._begun[1], 3)
            ),
        }
