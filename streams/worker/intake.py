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

1. *Nothing before the seek.* Activity records are processed only once faust's seek of every
   assigned partition to its committed offset (``perform_seek``, at the end of each rebalance)
   has completed, in the same membership (a revocation or assignment since starts over). faust
   resumes the partitions and the flow *before* that seek completes; records processed in
   between could be committed and then have their commit overwritten by the seek's older one
   (the partition never committed again). A fetch returning while the flow is stopped (a
   rebalance began) or before that seek completed is dropped, and read again (rule 4).
2. *Contiguity, per partition and membership.* The intake remembers the offset after the last
   record it processed; a fetch must continue exactly there (first in a membership: at the
   committed offset faust's seek put the consumer at). Records before it were processed
   already and are skipped; a fetch that starts *after* it means records were skipped on the
   way: the intake seeks back and reads them again. Only when the log has no records there
   does it go on, logging the range: its earliest offset is past them (retention), or the
   re-read starts at the same later offset again (transaction markers and aborted records,
   which the consumer never returns). So the offsets it acknowledges are exactly the ones it
   processed, and a commit never jumps over records nobody processed.
3. *A batch is tracked before processing and acknowledged after.* Per partition, the last
   record is tracked as a faust message before processing (a rebalance then waits for the
   batch, as it waits for a stream's unacknowledged messages), and only once the batch's output
   was acknowledged by Kafka and its rows written are its offsets registered (the range before
   the last record as one acknowledged gap, the last record acked); faust then commits them.
4. *A dropped fetch is read again, even when nothing follows it.* aiokafka's position moved
   past every record it handed out, processed or not. Rule 2 notices that only when a later
   record arrives, and a rebalance's seek covers only drops from before it began: faust seeks
   partition by partition while the consumer thread goes on fetching, so a record fetched
   just after its partition's seek, and dropped because the seek as a whole had not
   completed, was never read again when it was the partition's last (a worker started after
   `nurture replay rebuild` left the one new event unprocessed for good). So every partition
   whose records were dropped unprocessed, and not covered by a later seek to a committed
   offset, is sought back to where processing stands before the next fetch, once seeking is
   safe (the flow runs and this membership's seek is done). So are the profile partitions
   (back to faust's read offset; faust's drain loop would count a skipped range as done).

The activity agent stays registered (so the topic is subscribed, with acks enabled); its stream
simply never receives a record. Private members of faust used here go through ``faust_seam``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

from aiokafka.errors import IllegalStateError, KafkaError
from faust.types import TP

from schemas.stack_dump import add_state_reporter
from streams.worker import faust_seam
from streams.worker.metrics import WorkerMetrics

log = logging.getLogger(__name__)

#: Processes one batch of records (any partitions, each in offset order) and returns once its
#: effects are durable.
Handler = Callable[[Sequence[Any]], Awaitable[None]]


class BatchIntake:
    """Routes the records of ``topic`` from faust's consumer to ``handle`` in whole fetches."""

    def __init__(
        self,
        app: Any,
        topic: str,
        handle: Handler,
        metrics: WorkerMetrics | None = None,
        *,
        streamed: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.topic = topic
        #: Other source topics, whose records this hands on to faust's streams (the profiles):
        #: their dropped records are read again too (rule 4). Not the changelogs: faust's table
        #: recovery positions those itself.
        self.streamed = streamed
        self.handle = handle
        self.metrics = metrics
        #: Bumped by every revocation and assignment: what was learnt before is stale after.
        self._epoch = 0
        #: The epoch in which faust's seek to the committed offsets last completed; activity
        #: records are processed only while it is the current one (rule 1).
        self._ready_epoch = -1
        #: Per partition: (epoch, offset after the last record processed in it).
        self._next: dict[TP, tuple[int, int]] = {}
        #: Per partition: (epoch, offset) of the intake's own last seek back (rule 2).
        self._rewound: dict[TP, tuple[int, int]] = {}
        #: Partitions whose fetched records were dropped unprocessed, to seek back (rule 4).
        self._dropped: set[TP] = set()

    def install(self) -> None:
        """Take over the consumer's ``getmany`` (faust's drain loop calls it for every fetch),
        follow its seeks to the committed offsets and the group's membership changes."""
        consumer = self.app.consumer
        faust_seam.replace_getmany(consumer, self.getmany)
        faust_seam.wrap_perform_seek(consumer, self._seeking)
        self.app.on_partitions_revoked.connect(cast(Any, self._membership_changed))
        self.app.on_partitions_assigned.connect(cast(Any, self._membership_changed))
        add_state_reporter(self.describe)

    def describe(self) -> list[str]:
        """The intake's state and faust's offsets per assigned partition of ``topic`` (printed
        with the worker's task dump on SIGUSR1 or a stall)."""
        consumer = self.app.consumer
        lines = [
            f"-- intake {self.topic}: epoch {self._epoch}, ready {self.ready}, "
            f"flow active {consumer.flow_active}, generation {self.app.consumer_generation_id}, "
            f"rebalancing {self.app.rebalancing}, dropped {sorted(self._dropped)} --"
        ]
        for tp in sorted(t for t in consumer.assignment() if t.topic == self.topic):
            lines.append(
                f"  [{tp.partition}] next {self._next.get(tp)} rewound {self._rewound.get(tp)} "
                f"highwater {consumer.highwater(tp)} {faust_seam.offsets_state(consumer, tp)}"
            )
        return lines

    async def _membership_changed(self, sender: Any, *args: Any, signal: Any, **kw: Any) -> None:
        self._epoch += 1

    async def _seeking(self, seek: Callable[[], Awaitable[None]]) -> None:
        """Around faust's seek to the committed offsets: ready once it completed in the epoch
        it began in (a seek overtaken by a rebalance is not the one that counts)."""
        epoch = self._epoch
        covered = set(self._dropped)  # dropped before this seek began: it reads them again
        await seek()
        if self._epoch == epoch:
            self._ready_epoch = epoch
            # ... where it found a committed offset (without one faust does not move the
            # consumer: rule 4 seeks those itself).
            consumer = self.app.consumer
            self._dropped -= {
                tp for tp in covered if faust_seam.read_offset(consumer, tp) is not None
            }

    @property
    def ready(self) -> bool:
        """True once this membership's seek to the committed offsets is done."""
        return self._ready_epoch == self._epoch

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        """Process the fetch's records of ``topic`` as one batch; yield the others as faust's
        own ``getmany`` does, for their streams and tables."""
        consumer = self.app.consumer
        await self._read_dropped_again(consumer)
        records, active = await faust_seam.wait_next_records(consumer, timeout)
        generation = self.app.consumer_generation_id  # after the fetch, as faust does
        if records is None or consumer.should_stop:
            return
        mine = {tp: batch for tp, batch in records.items() if tp.topic == self.topic}
        if not consumer.flow_active:
            # A rebalance began during the fetch (rule 1; read again after it: rule 4).
            self._dropped.update(mine)
            self._drop_streamed(list(records))
            return
        if mine and self.ready:
            await self._process(consumer, mine, active, self._epoch)
        else:
            self._dropped.update(mine)  # before this membership's seek completed (rule 1)
        to_message = faust_seam.to_message
        handed_on = [tp for tp in records if tp.topic != self.topic]
        for index, tp in enumerate(handed_on):
            if not faust_seam.fetchable(consumer, tp, active):
                self._drop_streamed((tp,))
                continue
            for record in records[tp]:
                if not consumer.flow_active or self.app.consumer_generation_id != generation:
                    self._drop_streamed(handed_on[index:])  # a rebalance began: rule 4
                    return
                yield tp, to_message(consumer, tp, record)

    def _drop_streamed(self, tps: Sequence[TP]) -> None:
        self._dropped.update(tp for tp in tps if tp.topic in self.streamed)

    async def _read_dropped_again(self, consumer: Any) -> None:
        """Seek each partition whose fetched records were dropped back to where processing
        stands, once seeking is safe (rule 4); a partition no longer assigned is forgotten."""
        if not self._dropped or not consumer.flow_active or not self.ready:
            return
        epoch = self._epoch
        assigned = consumer.assignment()
        offsets = {
            tp: (
                self._expected_offset(consumer, tp, epoch)
                if tp.topic == self.topic
                # faust's streams re-read from its read offset (the last record handed on, or
                # where its seek put the consumer): at most that one record comes twice.
                else faust_seam.read_offset(consumer, tp) or 0
            )
            for tp in self._dropped
            if tp in assigned
        }
        try:
            if offsets:
                await consumer.seek_wait(offsets)
        except (IllegalStateError, KafkaError, TimeoutError) as exc:  # again before the next fetch
            log.warning("%s: seeking back dropped records failed (%r)", self.topic, exc)
            return
        self._dropped.clear()
        if offsets:
            log.info("reading dropped records again: %s", _offsets_text(offsets))
            self._count("reread")

    def _expected_offset(self, consumer: Any, tp: TP, epoch: int) -> int:
        """The offset ``tp``'s next record must have: after the last one processed in this
        membership, else the committed offset faust's seek found, else the log's start (no
        commit yet: reading starts at the earliest offset, and a fetch dropped before the seek
        may have moved the consumer past it, since aiokafka does not seek where nothing was
        committed)."""
        known = self._next.get(tp)
        if known is not None and known[0] == epoch:
            return known[1]
        sought = faust_seam.sought_offset(consumer, tp)
        return 0 if sought is None else sought

    async def _process(
        self,
        consumer: Any,
        fetched: dict[TP, list[Any]],
        active: set[TP] | None,
        epoch: int,
    ) -> None:
        selected: list[tuple[TP, int, list[Any]]] = []
        for tp, fetched_records in fetched.items():
            if not faust_seam.fetchable(consumer, tp, active):
                self._dropped.add(tp)  # paused since the fetch: read again (rule 4)
                continue
            first, records = await self._contiguous(consumer, tp, fetched_records, epoch)
            if records:
                selected.append((tp, first, records))
        if not selected:
            return
        if not consumer.flow_active or self._epoch != epoch or not self.ready:
            # A rebalance began while a gap was looked into: leave the records to the
            # membership that follows (and read them again after its seek: rule 4).
            self._dropped.update(tp for tp, _, _ in selected)
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
        await asyncio.shield(self._acknowledge(consumer, tracked, epoch))

    async def _acknowledge(
        self, consumer: Any, tracked: list[tuple[TP, int, Any]], epoch: int
    ) -> None:
        """Register a processed batch's offsets with faust (rule 3)."""
        for tp, first, last in tracked:
            if last.offset > first:
                await faust_seam.add_gap(consumer, tp, first, last.offset - 1)
            consumer.ack(last)
            self._next[tp] = (epoch, last.offset + 1)

    async def _contiguous(
        self, consumer: Any, tp: TP, records: list[Any], epoch: int
    ) -> tuple[int, list[Any]]:
        """The part of ``records`` that continues ``tp`` exactly where processing left off,
        and the first offset its acknowledgement covers; no records when the fetch skipped
        some (they are read again: rule 2)."""
        expected = self._expected_offset(consumer, tp, epoch)
        if records[0].offset < expected:  # processed already (a re-read after a seek back)
            records = [r for r in records if r.offset >= expected]
            if not records:
                return expected, records
        if records[0].offset == expected:
            self._rewound.pop(tp, None)
            return expected, records
        return await self._skipped(consumer, tp, expected, records, epoch)

    async def _skipped(
        self, consumer: Any, tp: TP, expected: int, records: list[Any], epoch: int
    ) -> tuple[int, list[Any]]:
        """A fetch of ``tp`` that starts after ``expected``: go on (and where the batch's
        acknowledgement starts), or no records while the skipped ones are read again."""
        first = records[0].offset
        # Records expected..first-1 were not processed: a fetch was dropped on the way (read
        # them again), or the log has no records there (retention; transaction markers and
        # aborted records, which the consumer never returns).
        try:
            earliest = (await consumer.earliest_offsets(tp)).get(tp, 0)
        except (KafkaError, TimeoutError) as exc:  # read again and look again (rule 4)
            log.warning("%s[%d]: earliest offset unknown (%r)", tp.topic, tp.partition, exc)
            self._dropped.add(tp)
            return expected, []
        if earliest >= first:
            return self._passed_over(tp, expected, first, "retention_gap"), records
        again = max(expected, earliest)  # before the log's start there is nothing to read
        if self._rewound.get(tp) == (epoch, again):
            # Read from there again already, and the log's next record is still `first`.
            return self._passed_over(tp, expected, first, "hole"), records
        log.warning(
            "%s[%d]: fetch started at offset %d, %d expected; reading from %d again",
            tp.topic,
            tp.partition,
            first,
            expected,
            again,
        )
        self._count("rewind")
        if consumer.flow_active and self._epoch == epoch and self.ready:
            with contextlib.suppress(IllegalStateError, KafkaError, TimeoutError):
                await consumer.seek_wait({tp: again})
                self._rewound[tp] = (epoch, again)
                return expected, []
        self._dropped.add(tp)  # not during a rebalance, nor after a failed seek: rule 4
        return expected, []

    def _passed_over(self, tp: TP, expected: int, first: int, outcome: str) -> int:
        """Log and count offsets ``expected..first-1`` that hold no record to process; they
        are acknowledged with the batch (returns where its acknowledgement starts)."""
        log.warning(
            "%s[%d]: no records at offsets %d..%d (%s); going on at %d",
            tp.topic,
            tp.partition,
            expected,
            first - 1,
            outcome,
            first,
        )
        self._count(outcome)
        self._rewound.pop(tp, None)
        return expected

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.intake_discontinuities.labels(outcome).inc()


def _offsets_text(offsets: dict[TP, int]) -> str:
    return ", ".join(
        f"{tp.topic}[{tp.partition}]@{offset}" for tp, offset in sorted(offsets.items())
    )
