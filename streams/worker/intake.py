"""Batch intake: the activity topic's records go from faust's consumer to the processor in
whole fetches, without faust's per-message path.

faust hands every consumed record to its stream one at a time: a ``Message`` object, a lock,
two tasks raced with ``asyncio.wait`` (``Service.wait_first``), a channel queue, an ``Event``,
and the stream's own bookkeeping before ``take_events`` batches them again: about 70 µs of CPU
per record, which alone held one worker under 15,000 records/s. The worker processes records in
batches anyway, so for ``candidate.activity`` this module takes each fetch (``RecordMap``: the
aiokafka records per partition) straight from the consumer and processes it as one batch.

Everything else stays faust's: the group membership and partition assignment (co-partitioned
with the table), the fetcher, table recovery, the profile agent, and the offset commits.
Offsets are acknowledged the way faust's commit logic expects: per partition and batch, the
last record is tracked *before* processing (so a rebalance waits for the batch, as it waits for
a stream's unacked messages), its predecessors are registered as a gap, and it is acked only
after the batch's output was acknowledged by Kafka and its rows written locally. faust then
commits the contiguous acked offsets at its commit interval.

The activity agent stays registered (so the topic is subscribed, with acks enabled); its
stream simply never receives a record.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from faust.types import TP

log = logging.getLogger(__name__)

#: Processes one batch of records (any partitions, each in offset order) and returns once its
#: effects are durable.
Handler = Callable[[Sequence[Any]], Awaitable[None]]


class BatchIntake:
    """Routes the records of ``topic`` from faust's consumer to ``handle`` in whole fetches."""

    def __init__(self, app: Any, topic: str, handle: Handler) -> None:
        self.app = app
        self.topic = topic
        self.handle = handle

    def install(self) -> None:
        """Take over the consumer's ``getmany`` (faust's drain loop calls it for every fetch)."""
        consumer = self.app.consumer
        consumer.getmany = self.getmany

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        """Process the fetch's records of ``topic`` as one batch; yield the others as faust's
        own ``getmany`` does, for their streams and tables."""
        consumer = self.app.consumer
        # Read before the fetch: records fetched across a rebalance are left to the new
        # assignment (faust seeks every assigned partition back to its committed offset).
        generation = self.app.consumer_generation_id
        records, active = await consumer._wait_next_records(timeout)
        if records is None or consumer.should_stop:
            return
        if not consumer.flow_active:  # a rebalance began: faust seeks back to the commits
            await consumer.perform_seek()
            return
        mine = {tp: batch for tp, batch in records.items() if tp.topic == self.topic}
        if mine:
            await self._process(consumer, mine, active, generation)
        to_message = consumer._to_message
        for tp, batch in records.items():
            if tp.topic == self.topic:
                continue
            if active is not None and tp not in active and tp not in consumer._buffered_partitions:
                continue
            for record in batch:
                if not consumer.flow_active or self.app.consumer_generation_id != generation:
                    return
                yield tp, to_message(tp, record)

    async def _process(
        self,
        consumer: Any,
        fetched: dict[TP, list[Any]],
        active: set[TP] | None,
        generation: int,
    ) -> None:
        read_offset = consumer._read_offset
        batch: list[Any] = []
        tracked: list[tuple[TP, int, Any]] = []
        for tp, fetched_records in fetched.items():
            if active is not None and tp not in active and tp not in consumer._buffered_partitions:
                continue
            seen = read_offset[tp]
            records = fetched_records
            if seen is not None:  # faust's rule: drop what is older than what was read
                records = [r for r in records if r.offset >= seen]
            if not records:
                continue
            last = consumer._to_message(tp, records[-1])
            consumer.track_message(last)  # a rebalance now waits for this batch
            # The gap starts after the last offset read, as in faust's drain loop: offsets the
            # log no longer has (retention) or never had (transaction markers) count as done.
            first = records[0].offset if seen is None else min(records[0].offset, seen + 1)
            tracked.append((tp, first, last))
            batch.extend(records)
        if not tracked:
            return
        if self.app.consumer_generation_id != generation:
            # The assignment changed since the fetch: leave the records to whoever owns them
            # now (faust seeks every partition back to its committed offset).
            for _, _, last in tracked:
                consumer._unacked_messages.discard(last)
            return
        await self.handle(batch)
        for tp, first, last in tracked:
            if last.offset > first:
                await consumer._add_gap(tp, first, last.offset - 1)
            consumer.ack(last)
            read_offset[tp] = last.offset
