"""Liveness: a worker that stops committing while records wait must not look healthy.

Two guards. (1) An agent whose batch raises is a bug we cannot skip safely, so the process exits
at once with :data:`EXIT_AGENT_CRASHED` (``os._exit``: no ``finally`` runs, so faust cannot ack
or commit the failed batch) and the supervisor restarts it; the batch is processed again.
(2) :class:`CommitWatch` checks every few seconds whether the committed offsets of the assigned
source partitions advanced; when records have waited longer than the stall timeout without a
commit (and no rebalance or table recovery is running), the process exits with
:data:`EXIT_STALLED`. ``GET /v1/health`` reports the same figures.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Exit status when an agent raised (EX_SOFTWARE).
EXIT_AGENT_CRASHED = 70
#: Exit status when offsets stopped advancing while records were waiting (EX_TEMPFAIL).
EXIT_STALLED = 75


def crash_process(reason: str, code: int = EXIT_AGENT_CRASHED) -> None:
    """Log ``reason`` and end the process now, without committing anything more."""
    log.critical("exiting with status %d: %s", code, reason)
    sys.stderr.write(f"nurture worker: exiting with status {code}: {reason}\n")
    sys.stderr.flush()
    os._exit(code)


@dataclass
class CommitWatch:
    """Commit progress of one worker's source partitions (``app`` is the faust app)."""

    app: Any
    source_topics: frozenset[str]
    stall_timeout_s: float
    last_progress: float = field(default_factory=time.monotonic)
    _last_committed: dict[Any, int] = field(default_factory=dict)

    def lag(self) -> dict[str, int]:
        """Records waiting per assigned source partition (``topic:partition`` -> count)."""
        committed = self.app.monitor.tp_committed_offsets
        consumer = self.app.consumer
        waiting: dict[str, int] = {}
        for tp in consumer.assignment():
            if tp.topic not in self.source_topics or tp not in committed:
                continue
            waiting[f"{tp.topic}:{tp.partition}"] = max(0, consumer.highwater(tp) - committed[tp])
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
        }
