"""Batch intake: the activity topic's records go from faust's consumer to the processor in
whole fetches, without faust's per-message path.

faust hands every consumed record to its stream one at a time: a ``Message`` object, a lock,
two tasks raced with ``asyncio.wait`` (``Service.wait_first``), a channel queue, an ``Event``,
and the stream's own bookkeeping before ``take_events`` batches them again: about 70 µs of CPU
per record, which alone held one worker under 15,000 records/s. The worker processes records in
batches anyway, so for ``candidate.activity`` this module takes each fetch (``RecordMap``: the
aiokafka records per partition) straight from the consumer and processes it as one batch.

Everything else stays faust's: the group membership and partition assignment (co-partitioned
with the table), the fetcher, table recovery, the profile agent, and the offset commits. The
other topics' records (profiles, changelog and standby records) are handed on exactly as
faust's own ``getmany`` hands them on.

**What makes it safe under rebalances** (each rule closes a way events were once lost):

1. *The generation is read after the fetch*, as faust does. A fetch that returns while a
   rebalance runs (the flow is stopped) is dropped: faust seeks every assigned partition back to
   its committed offset before it resumes the flow.
2. *Contiguity, per partition and generation.* The intake remembers the offset after the last
   record it processed; a fetch must continue exactly there (or, first in a generation, at the
   offset faust's seek to the committed offsets put it). Records before it were processed
   already and are skipped; a fetch that starts *after* it means records were skipped on the
   way (a dropped fetch, a paused partition): the intake seeks back and reads them again. Only
   when the log itself no longer has them (retention) does it go on, logging the gap. So the
   offsets it acknowledges are always exactly the ones it processed, and a commit can never
   jump over records nobody processed.
3. *A batch is tracked before processing and acknowledged after.* Per partition, the last
   record is tracked as a faust message before processing (a rebalance then waits for the
   batch, as it waits for a stream's unacknowledged messages), and only once the batch's output
   was acknowledged by Kafka and its rows written are its offsets registered (the range before
   the last record as one acknowledged gap, the last record acked); faust then commits them.

The activity agent stays registered (so the topic is subscribed, with acks enabled); its stream
simply never receives a record. Private members of faust used here go through ``faust_seam``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.metrics import WorkerMetrics
from streams.worker import faust_seam

log = logging.getLogger(__name__)

#: Processes one batch of records (any partitions, each in offset order) and returns once its
#: effects are durable.
Handler = Callable[[Sequence[Any]], Awaitable[None]]


class BatchIntake:
    """Routes the records of ``topic`` from faust's consumer to ``handle`` in whole fetches."""

    def __init__(
        self, app: Any, topic: str, handle: Handler, metrics: WorkerMetrics | None = None
    ) -> None:
        self.app = app
        self.topic = topic
        self.handle = handle
        self.metrics = metrics
        #: Per partition: (generation, offset after the last record processed in it).
        self._next: dict[TP, tuple[int, int]] = {}

    def install(self) -> None:
        """Take over the consumer's ``getmany`` (faust's drain loop calls it for every fetch)."""
        faust_seam.replace_getmany(self.app.consumer, self.getmany)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        """Process the fetch's records of ``topic`` as one batch; yield the others as faust's
        own ``getmany`` does, for their streams and tables."""
        consumer = self.app.consumer
        records, active = await faust_seam.wait_next_records(consumer, timeout)
        generation = self.app.consumer_generation_id  # after the fetch (rule 1)
        if records is None or consumer.should_stop:
            return
        if not consumer.flow_active:
            # A rebalance began during the fetch. faust seeks every assigned partition back to
            # its committed offset before it resumes the flow, so these records come again.
            return
        mine = {tp: batch for tp, batch in records.items() if tp.topic == self.topic}
        if mine:
            await self._process(consumer, mine, active, generation)
        to_message = faust_seam.to_message
        for tp, batch in records.items():
            if tp.topic == self.topic or not faust_seam.fetchable(consumer, tp, active):
                continue
            for record in batch:
                if not consumer.flow_active or self.app.consumer_generation_id != generation:
                    return
                yield tp, to_message(consumer, tp, record)

    def expected_offset(self, consumer: Any, tp: TP, generation: int) -> int | None:
        """The offset ``tp``'s next record must have (None: wherever the reset policy starts)."""
        known = self._next.get(tp)
        if known is not None and known[0] == generation:
            return known[1]
        return faust_seam.sought_offset(consumer, tp)

    async def _process(
        self,
        consumer: Any,
        fetched: dict[TP, list[Any]],
        active: set[TP] | None,
        generation: int,
    ) -> None:
        selected: list[tuple[TP, int, list[Any]]] = []
        for tp, fetched_records in fetched.items():
            if not faust_seam.fetchable(consumer, tp, active):
                continue  # paused since the fetch: rule 2 re-reads it when it comes back
            first, records = await self._contiguous(consumer, tp, fetched_records, generation)
            if records:
                selected.append((tp, first, records))
        if not selected:
            return
        if not consumer.flow_active or self.app.consumer_generation_id != generation:
            # A rebalance began while a gap was looked into: leave the records to the
            # assignment that follows (faust seeks back to the committed offsets first).
            return
        batch: list[Any] = []
        tracked: list[tuple[TP, int, Any]] = []
        for tp, first, records in selected:
            last = faust_seam.to_message(consumer, tp, records[-1])
            consumer.track_message(last)  # a rebalance now waits for this batch (rule 3)
            tracked.append((tp, first, last))
            batch.extend(records)
        await self.handle(batch)
        # Shielded: a stop that cancels the intake right now must not leave a tracked record
        # unacknowledged, or faust's stop (wait_empty) would wait for it for ever.
        await asyncio.shield(self._acknowledge(consumer, tracked, generation))

    async def _acknowledge(
        self, consumer: Any, tracked: list[tuple[TP, int, Any]], generation: int
    ) -> None:
        """Register a processed batch's offsets with faust (rule 3)."""
        for tp, first, last in tracked:
            if last.offset > first:
                await faust_seam.add_gap(consumer, tp, first, last.offset - 1)
            consumer.ack(last)
            self._next[tp] = (generation, last.offset + 1)

    async def _contiguous(
        self, consumer: Any, tp: TP, records: list[Any], generation: int
    ) -> tuple[int, list[Any]]:
        """The part of ``records`` that continues ``tp`` exactly where processing left off,
        and the first offset its acknowledgement covers; no records when the fetch skipped
        some (they are read again: rule 2)."""
        expected = self.expected_offset(consumer, tp, generation)
        if expected is None:
            return records[0].offset, records
        if records[0].offset < expected:  # processed already (a re-read after a seek back)
            records = [r for r in records if r.offset >= expected]
            if not records:
                return expected, records
        first = records[0].offset
        if first == expected:
            return first, records
        # Records expected..first-1 were not processed. Either the log no longer has them
        # (retention), or a fetch was dropped on the way: then read them again.
        earliest = (await consumer.earliest_offsets(tp)).get(tp, 0)
        if earliest >= first:
            log.warning(
                "%s[%d]: offsets %d..%d are gone from the log (retention); going on at %d",
                tp.topic,
                tp.partition,
                expected,
                first - 1,
                first,
            )
            self._count("retention_gap")
            return expected, records  # the missing range is acknowledged with the batch
        log.warning(
            "%s[%d]: fetch started at offset %d, %d expected; reading from %d again",
            tp.topic,
            tp.partition,
            first,
            expected,
            expected,
        )
        self._count("rewind")
        with contextlib.suppress(IllegalStateError):  # unassigned: the next assignment seeks
            await consumer.seek_wait({tp: expected})
        return expected, []

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.intake_discontinuities.labels(outcome).inc()
