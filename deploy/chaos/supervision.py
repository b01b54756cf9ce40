"""The chaos run while it goes: publishing in the background, kills, restarts, the drain.

:class:`Supervisor` is the loop of the harness's main thread: every turn it restarts whatever
exited (:meth:`Fleet.tick`), re-raises a failure of the publisher thread and checks a
condition. The kill schedule and the drain are such loops.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from deploy.chaos.inputs import publish_events
from deploy.chaos.processes import Fleet, Member
from deploy.chaos.result import ChaosError, ChaosTimeoutError
from deploy.chaos.schedule import Kill
from deploy.chaos.watch import OffsetWatch
from schemas.settings import KafkaSettings

#: Chance that a kill goes to the delivery consumer instead of a worker.
DELIVERY_KILL_SHARE = 0.1
#: The drain gives up when no committed offset moved for this long while records waited (s).
DRAIN_STALL_S = 60.0
#: How often the loop looks at the processes (seconds).
TICK_S = 0.05


class Publisher:
    """Publishes activity events from a thread: ``first_share`` of them at once, the rest at
    ``rate`` events/s, through one SDK producer (so in the same order as the reference)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        events: Sequence[dict[str, Any]],
        *,
        first_share: float,
        rate: float,
    ) -> None:
        cut = round(len(events) * first_share)
        self.kafka = kafka
        self.first: Sequence[dict[str, Any]] = events[:cut]
        self.rest: Sequence[dict[str, Any]] = events[cut:]
        self.rate = rate
        self.first_done = threading.Event()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        #: When the last event was acknowledged (monotonic seconds).
        self.finished_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            publish_events(self.kafka, [(self.first, None)], self.stop)
            self.first_done.set()
            publish_events(self.kafka, [(self.rest, self.rate)], self.stop)
        except BaseException as exc:  # handed to the main thread by check()
            self.error = exc
        finally:
            self.finished_at = time.monotonic()
            self.first_done.set()
            self.done.set()

    def check(self) -> None:
        """Raise :class:`ChaosError` when publishing failed."""
        if self.error is not None:
            raise ChaosError(f"publishing the input failed: {self.error}") from self.error


def choose_target(fleet: Fleet, pick: float, rng: random.Random) -> Member | None:
    """The delivery consumer when ``pick`` < :data:`DELIVERY_KILL_SHARE` and it is live, else a
    random live worker, but never the last live worker of several (so one of them always runs
    or is starting). None when no process may be killed now."""
    delivery = fleet.live("delivery")
    if delivery and pick < DELIVERY_KILL_SHARE:
        return delivery[0]
    workers = fleet.live("worker")
    if len(fleet.of_kind("worker")) > 1 and len(workers) < 2:
        return None
    return rng.choice(workers) if workers else None


class Supervisor:
    """Supervision of ``fleet`` until conditions hold; ``remaining()`` is the time left before
    the run's deadline, ``note`` prints a progress line."""

    def __init__(
        self,
        fleet: Fleet,
        publisher: Publisher,
        watch: OffsetWatch,
        remaining: Callable[[], float],
        note: Callable[[str], None],
    ) -> None:
        self.fleet = fleet
        self.publisher = publisher
        self.watch = watch
        self.remaining = remaining
        self.note = note

    def step(self) -> None:
        """One turn: restart what exited (noting unexpected exits), re-raise a publishing
        failure, wait a moment."""
        for exit_record in self.fleet.tick():
            if not exit_record.expected:
                self.note(f"unexpected exit: {exit_record.describe()}; restarted")
        self.publisher.check()
        time.sleep(TICK_S)

    def until(self, what: str, condition: Callable[[], bool]) -> None:
        """Supervise until ``condition()``; :class:`ChaosTimeoutError` past the deadline."""
        deadline = time.monotonic() + self.remaining()
        while not condition():
            if time.monotonic() > deadline:
                error = self.watch.last_error
                why = f" (last offset watch error: {error})" if error else ""
                raise ChaosTimeoutError(f"timed out waiting for {what}{why}")
            self.step()

    def caught_up(self, topics: Sequence[str], after: float | None = None) -> bool:
        """True when the latest offset snapshot (taken after ``after``) has nothing waiting on
        ``topics``."""
        snapshot = self.watch.latest()
        if snapshot is None or (after is not None and snapshot.at <= after):
            return False
        return snapshot.lag(topics) == 0

    def apply(self, schedule: Sequence[Kill], *, seed: int) -> None:
        """Each kill after its pause, on a process chosen among the live ones at that moment
        (waiting for one when none may be killed)."""
        rng = random.Random(f"nurture-chaos-targets-{seed}")
        for number, kill in enumerate(schedule, 1):
            self.until(f"kill {number}", partial(_past, time.monotonic() + kill.pause_s))
            pick = rng.random()
            chosen: list[Member] = []
            self.until(f"a process for kill {number}", partial(self._target, pick, rng, chosen))
            self.fleet.kill(chosen[0], kill.kind)
            self.note(f"kill {number}/{len(schedule)}: {kill.kind} {chosen[0].name}")

    def _target(self, pick: float, rng: random.Random, chosen: list[Member]) -> bool:
        target = choose_target(self.fleet, pick, rng)
        chosen[:] = [] if target is None else [target]
        return target is not None

    def drain(self, phases: Sequence[Sequence[str]]) -> bool:
        """Wait, phase after phase, until nothing waits on the phase's topics (in snapshots
        taken after the input was published and after the previous phase); False at the
        deadline or when no committed offset moved for :data:`DRAIN_STALL_S`."""
        deadline = time.monotonic() + self.remaining()
        after = self.publisher.finished_at
        last_moved, last_total = time.monotonic(), -1
        for topics in phases:
            while not self.caught_up(topics, after):
                now = time.monotonic()
                snapshot = self.watch.latest()
                total = -1 if snapshot is None else snapshot.committed_total()
                if total != last_total:
                    last_moved, last_total = now, total
                if now > deadline:
                    self.note(f"drain: the deadline passed with records waiting on {topics}")
                    return False
                if now - last_moved > DRAIN_STALL_S:
                    age = self.watch.age_s()
                    seen = "no snapshot yet" if age is None else f"latest snapshot {age:.0f}s old"
                    error = self.watch.last_error or "none"
                    self.note(
                        f"drain: no commit for {DRAIN_STALL_S:.0f}s with records waiting "
                        f"({seen}; {self.watch.failed_snapshots} snapshots failed in all, "
                        f"last error: {error})"
                    )
                    return False
                self.step()
            after = time.monotonic()
            self.note(f"drained: {', '.join(topics)}")
        return True


def _past(moment: float) -> bool:
    return time.monotonic() >= moment
