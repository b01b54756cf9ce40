"""Running processing steps one at a time: process, publish, wait for Kafka, write locally.

The activity agent, the profile agent and the wall-clock campaign timer all change candidate
rows. Their steps run under one lock, so a step reads the rows the previous one wrote (the row
overlay) and steps reach the local store in the order they ran. Inside a step, nothing awaits
between reading and writing a row; the lock is held across the publish so the next step never
commits before an earlier one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from faust.types import TP

from streams.worker.liveness import crash_process
from streams.worker.metrics import WorkerMetrics
from streams.worker.outbox import Publisher
from streams.worker.outputs import Outputs
from streams.worker.step import Step
from streams.worker.timers import TimerProcessor

log = logging.getLogger(__name__)

Process = Callable[[Sequence[Any]], Step]


class StepRunner:
    """Runs the worker's steps against its app, table and outputs."""

    def __init__(self, app: Any, outputs: Outputs, metrics: WorkerMetrics) -> None:
        self.app = app
        self.outputs = outputs
        self.metrics = metrics
        self.publisher = Publisher(app, outputs.changelog)
        self._lock = asyncio.Lock()

    async def run_batch(
        self, process: Process, messages: Sequence[Any], *, check_owned: bool = True
    ) -> None:
        """Process a batch of consumed records; any failure exits the process (so faust can
        never ack the batch): it is processed again after the restart.

        ``check_owned`` drops records of partitions revoked while the batch filled (an agent's
        batch); the batch intake passes False: it checked the assignment itself and acks every
        record it hands over, so none may be dropped here."""
        started = time.perf_counter()
        try:
            async with self._lock:
                batch = owned(self.app, messages) if check_owned else messages
                await self._commit(process(batch))
        except asyncio.CancelledError:
            # Stopped mid-batch: leaving now would let faust ack (and commit) the whole batch.
            crash_process("stopped while publishing a batch (it is processed again)", 0)
        except Exception as exc:
            log.exception("batch of %d records failed", len(messages))
            crash_process(f"agent failed on a batch: {type(exc).__name__}: {exc}")
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    async def run_timers(
        self, timers: TimerProcessor, topic: str, now_us: int, paused: Callable[[], bool]
    ) -> None:
        """Wake the candidates due by ``now_us`` on every owned partition of ``topic``, unless
        ``paused()`` (a rebalance or recovery) once the lock is held: the tick may have waited
        for a batch, during which a revocation began."""
        try:
            async with self._lock:
                if paused():
                    return
                step = self.outputs.step()
                for tp in sorted(self.app.consumer.assignment()):
                    if tp.topic == topic:
                        timers.tick(step, tp.partition, now_us)
                await self._commit(step)
        except asyncio.CancelledError:
            # Stopped mid-tick: its rows are in the overlay, its actions maybe not in Kafka.
            crash_process("stopped during a campaign timer tick (it runs again)", 0)
        except Exception as exc:
            log.exception("campaign timer tick failed")
            crash_process(f"campaign timer failed: {type(exc).__name__}: {exc}")

    async def on_partitions_revoked(
        self, sender: Any, *args: Any, signal: Any, **kwargs: Any
    ) -> None:
        """faust's revocation signal: return once the step in flight (if any) finished.

        faust already waits for the records it tracks (the activity batch, the profile agent's
        events); a wall-clock timer tick is not one of them. Holding the lock here makes the
        revocation wait for it too, and the ticks after it see the stopped flow and skip."""
        async with self._lock:
            return

    async def _commit(self, step: Step) -> None:
        """Publish what the step caused, wait for Kafka, then write its rows locally."""
        outbox = step.seal()
        persisted = await self.publisher.publish(outbox) if len(outbox) else {}
        self.outputs.rows.commit(step.writes, persisted, self._persisted)

    def _persisted(self, partition: int, offset: int) -> None:
        store: Any = self.outputs.table.data
        store.set_persisted_offset(TP(self.outputs.changelog, partition), offset)


def owned(app: Any, messages: Sequence[Any]) -> Sequence[Any]:
    """The records of partitions this worker still owns (a rebalance may have moved some while
    the batch filled: their new owner processes them; writing them here would race it)."""
    assigned = app.consumer.assignment()
    if all(TP(m.topic, m.partition) in assigned for m in messages):
        return messages
    return [m for m in messages if TP(m.topic, m.partition) in assigned]
