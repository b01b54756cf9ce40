"""Liveness of a delivery consumer: offsets must keep advancing while actions wait.

The loop reports after every poll (:meth:`CommitWatch.beat`) whether it made progress (it
committed offsets, or nothing was waiting, or only retries that are not due yet) and how many
actions wait on its assigned ``nurture.action`` partitions (high watermark - position). A
watchdog thread (:meth:`CommitWatch.guard`) checks every ``liveness_check_s``; the consumer is
*stalled* when

* actions have waited longer than ``stall_timeout_s`` without progress (commits fail again and
  again, every batch ends in an error that is swallowed, ...), or
* the loop has not come back from a poll batch for longer than ``stall_timeout_s`` (a send,
  flush or commit that hangs).

Then the watchdog logs why, asks the loop to stop (so a loop that is merely slow finishes its
record, flushes and commits) and, if it has not returned after ``grace_s``, ends the process
with :data:`EXIT_STALLED` (``os._exit``; nothing more is committed, which is safe: outcomes are
flushed before offsets are committed, and a restart redelivers the rest as no-ops).
``GET /health`` on the metrics port shows :meth:`CommitWatch.status`: 503 while stalled, and
``"stopping": true`` (still 503) from the moment the watchdog acted until the health server is
shut down on the way out, even when the loop's last batch completes meanwhile.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.errors import NurtureError

log = logging.getLogger(__name__)

#: Exit status when offsets stopped advancing while actions waited (EX_TEMPFAIL, as the worker).
EXIT_STALLED = 75


@dataclass(frozen=True)
class Beat:
    """What the loop last said about itself (monotonic seconds)."""

    at: float
    progress_at: float
    waiting: int


def stall_reason(beat: Beat, now: float, stall_timeout_s: float) -> str | None:
    """Why the consumer counts as stalled at ``now``, or None if it is live (pure)."""
    since_beat = now - beat.at
    if since_beat > stall_timeout_s:
        return f"the delivery loop has not finished a poll batch for {since_beat:.0f}s"
    since_progress = now - beat.progress_at
    if beat.waiting > 0 and since_progress > stall_timeout_s:
        return (
            f"no offset committed for {since_progress:.0f}s "
            f"while {beat.waiting} actions wait on the assigned partitions"
        )
    return None


class StalledError(NurtureError):
    """Raised by ``run_delivery`` when the watchdog stopped a stalled loop that then returned.

    The command exits with :data:`EXIT_STALLED`, like a loop that never returned.
    """


def exit_stalled(reason: str) -> None:
    """Log ``reason`` and end the process now with :data:`EXIT_STALLED`."""
    log.critical("exiting with status %d: %s", EXIT_STALLED, reason)
    sys.stderr.write(f"nurture deliver: exiting with status {EXIT_STALLED}: {reason}\n")
    sys.stderr.flush()
    os._exit(EXIT_STALLED)


class CommitWatch:
    """Commit progress of one delivery loop, shared between the loop and its watchdog."""

    def __init__(
        self,
        stall_timeout_s: float,
        *,
        on_progress: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall_timeout_s = stall_timeout_s
        self._clock = clock
        self._on_progress = on_progress
        now = clock()
        self._beat = Beat(at=now, progress_at=now, waiting=0)
        self._lock = threading.Lock()
        #: False until :meth:`restart`: building the loop (catching up topics) is no stall.
        self.started = False
        #: Why the watchdog gave up, once it has.
        self.stalled: str | None = None
        #: What the loop holds its sends for, while it does (``GET /health``'s
        #: ``waiting_for``; e.g. a view waiting for the schema registry), else None.
        self.waiting_for: str | None = None

    def beat(self, *, progress: bool, waiting: int) -> None:
        """Called by the loop after each poll batch (``waiting``: actions not yet consumed)."""
        now = self._clock()
        with self._lock:
            progress_at = now if progress or waiting == 0 else self._beat.progress_at
            self._beat = Beat(at=now, progress_at=progress_at, waiting=waiting)
        if progress and self._on_progress is not None:
            self._on_progress()

    def restart(self) -> None:
        """Count from now (call it when the loop starts: building it is not a stall)."""
        self.beat(progress=True, waiting=0)
        self.started = True

    def check(self) -> str | None:
        """Why the loop is stalled now, or None."""
        with self._lock:
            beat = self._beat
        if not self.started:
            return None
        return stall_reason(beat, self._clock(), self.stall_timeout_s)

    def status(self) -> dict[str, Any]:
        """What ``GET /health`` answers."""
        with self._lock:
            beat = self._beat
        now = self._clock()
        stopping = self.stalled  # once the watchdog acted, stay stalled while the loop stops
        reason = stopping or self.check()
        return {
            "status": ("ok" if self.started else "starting") if reason is None else "stalled",
            "reason": reason,
            "stopping": stopping is not None,
            "seconds_since_progress": round(now - beat.progress_at, 3),
            "seconds_since_poll": round(now - beat.at, 3),
            "waiting_actions": beat.waiting,
            "waiting_for": self.waiting_for,
            "stall_timeout_s": self.stall_timeout_s,
        }

    def guard(
        self,
        stop: threading.Event,
        finished: threading.Event,
        *,
        interval_s: float,
        grace_s: float,
        on_stall: Callable[[str], None] = exit_stalled,
    ) -> None:
        """Watchdog body (run it in a daemon thread) until ``finished`` is set.

        On a stall: record the reason, set ``stop``, wait ``grace_s`` for ``finished`` (the
        loop returned; the caller then exits with :data:`EXIT_STALLED` itself), else
        ``on_stall(reason)``.
        """
        while not finished.wait(interval_s):
            reason = self.check()
            if reason is None:
                continue
            log.error("delivery consumer stalled: %s; stopping", reason)
            self.stalled = reason
            stop.set()
            if not finished.wait(grace_s):
                on_stall(reason)
            return
