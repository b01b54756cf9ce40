"""The kill schedule: which signal to send next and how long to wait before it (pure, seeded).

Faust's killer test kills its workers 180 times: 100 times with SIGTERM or SIGINT (a coin flip
each), 50 times with SIGTERM and 30 times with SIGKILL, in shuffled order, each after a random
pause of 0.1-1 s. :func:`kill_schedule` draws that schedule from a seed; ``scale`` multiplies the
three counts (rounded up, so any positive scale keeps at least one kill of each group, and 0
gives no kills at all). Which process each kill hits is decided while the run goes, among the
processes alive at that moment (:mod:`deploy.chaos.harness`).
"""

from __future__ import annotations

import math
import random
import signal
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

KillKind = Literal["SIGTERM", "SIGINT", "SIGKILL"]
#: Every kind, in the order reports list them.
KILL_KINDS: tuple[KillKind, ...] = ("SIGTERM", "SIGINT", "SIGKILL")
SIGNALS: Mapping[KillKind, signal.Signals] = {
    "SIGTERM": signal.SIGTERM,
    "SIGINT": signal.SIGINT,
    "SIGKILL": signal.SIGKILL,
}


@dataclass(frozen=True)
class ScheduleCounts:
    """How many kills of each group a schedule has."""

    #: SIGTERM or SIGINT, a coin flip each.
    term_or_int: int
    term: int
    kill: int

    @property
    def total(self) -> int:
        return self.term_or_int + self.term + self.kill

    def scaled(self, scale: float) -> ScheduleCounts:
        """Each count times ``scale``, rounded up (``scale`` >= 0)."""
        if scale < 0 or not math.isfinite(scale):
            raise ValueError(f"scale must be a finite number >= 0, got {scale}")

        def times(count: int) -> int:
            # round() first: 100 * 0.07 is 7.000000000000001, which must stay 7
            return math.ceil(round(count * scale, 9))

        return ScheduleCounts(times(self.term_or_int), times(self.term), times(self.kill))


#: Faust's schedule (scale 1.0).
FAUST_COUNTS = ScheduleCounts(term_or_int=100, term=50, kill=30)
#: Pause before each kill, seconds (uniform between the two).
PAUSE_RANGE_S = (0.1, 1.0)


@dataclass(frozen=True)
class Kill:
    """One scheduled kill: wait ``pause_s`` after the previous one, then send ``kind``."""

    pause_s: float
    kind: KillKind


def kill_schedule(
    seed: int,
    scale: float = 1.0,
    *,
    counts: ScheduleCounts = FAUST_COUNTS,
    pause_range_s: tuple[float, float] = PAUSE_RANGE_S,
) -> list[Kill]:
    """The kills of ``counts`` scaled by ``scale``, shuffled, with random pauses; the same
    ``seed`` and arguments always give the same list."""
    low, high = pause_range_s
    if not 0 <= low <= high:
        raise ValueError(f"pause range must satisfy 0 <= low <= high, got {pause_range_s}")
    wanted = counts.scaled(scale)
    rng = random.Random(f"nurture-chaos-schedule-{seed}")
    term: KillKind = "SIGTERM"
    interrupt: KillKind = "SIGINT"
    kill: KillKind = "SIGKILL"
    kinds = [rng.choice((term, interrupt)) for _ in range(wanted.term_or_int)]
    kinds += [term] * wanted.term + [kill] * wanted.kill
    rng.shuffle(kinds)
    return [Kill(rng.uniform(low, high), kind) for kind in kinds]


def count_kinds(kinds: Iterable[KillKind]) -> dict[KillKind, int]:
    """Kills per kind, every kind present (0 when none)."""
    counted = Counter(kinds)
    return {kind: counted[kind] for kind in KILL_KINDS}
