"""Where simulated records go: a JSON-lines file, or Kafka through the SDK, optionally paced.

File format (also read by ``nurture publish``): one JSON object per line,
``{"subject": "candidate_profile" | "activity_event", "record": {...}}``, timestamps as
RFC 3339 strings in UTC with a ``Z``. Keys keep the generator's order, so the same records give
the same bytes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson

from producers.delivery import Delivery
from producers.producer import NurtureProducer
from producers.simulate.generate import SimRecord

_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE


@dataclass
class SimCounts:
    """What a simulation run emitted."""

    profiles: int = 0
    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)

    def add(self, sim: SimRecord) -> None:
        if sim.subject == "activity_event":
            self.events += 1
            self.by_type[sim.record["type"]] += 1
        else:
            self.profiles += 1


def to_json_line(sim: SimRecord) -> bytes:
    """The JSON line (newline included) of one simulated record."""
    return orjson.dumps({"subject": sim.subject, "record": sim.record}, option=_JSON_OPTIONS)


class Pacer:
    """Spaces calls at ``rate`` per second (None: no pacing) and stops after ``duration_s``."""

    def __init__(
        self,
        rate: float | None,
        duration_s: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._deadline = self._start + duration_s if duration_s is not None else None
        self._count = 0

    def tick(self) -> bool:
        """Wait for the next slot; False once the duration is over (the caller stops)."""
        now = self._clock()
        if self._deadline is not None and now >= self._deadline:
            return False
        if self.rate is not None:
            due = self._start + self._count / self.rate
            if self._deadline is not None and due >= self._deadline:
                return False
            if due - now > 0.001:
                self._sleep(due - now)
        self._count += 1
        return True


def write_jsonl(
    records: Iterable[SimRecord],
    out: BinaryIO,
    pacer: Pacer | None = None,
    on_record: Callable[[SimRecord], None] | None = None,
) -> SimCounts:
    """Write ``records`` as JSON lines to ``out`` (paced by events when a pacer is given)."""
    counts = SimCounts()
    write = out.write
    for sim in records:
        if pacer is not None and sim.subject == "activity_event" and not pacer.tick():
            break
        write(to_json_line(sim))
        counts.add(sim)
        if on_record is not None:
            on_record(sim)
    return counts


def publish(
    records: Iterable[SimRecord],
    producer: NurtureProducer,
    pacer: Pacer | None = None,
    on_record: Callable[[SimRecord], None] | None = None,
    timeout_s: float | None = None,
) -> SimCounts:
    """Send ``records`` through the SDK and wait for every acknowledgement.

    Raises like :meth:`NurtureProducer.flush` when records were not acknowledged.
    """
    counts = SimCounts()
    for sim in records:
        if pacer is not None and sim.subject == "activity_event" and not pacer.tick():
            break
        delivery: Delivery
        if sim.subject == "activity_event":
            delivery = producer.send(sim.record)
        else:
            delivery = producer.upsert_profile(sim.record)
        del delivery  # failures surface in flush below
        counts.add(sim)
        if on_record is not None:
            on_record(sim)
    producer.flush(timeout_s)
    return counts
