"""The batch intake's rules, one at a time, against an in-memory stand-in for the few members of
faust's consumer it uses (the real thing, under rebalances and kills, is exercised by
tests/test_worker_group.py and `nurture chaos`): what it processes, what it acknowledges, when
it seeks back, and that a stop mid-acknowledgement leaves nothing tracked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

from streams.worker.intake import BatchIntake

TOPIC = "candidate.activity"
P0 = TP(TOPIC, 0)


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int


def records(tp: TP, first: int, last: int) -> list[Record]:
    return [Record(tp.topic, tp.partition, offset) for offset in range(first, last + 1)]


@dataclass(eq=False)
class Message:
    tp: TP
    offset: int
    acked: bool = False


@dataclass
class Consumer:
    """The members of faust's consumer the intake touches, recording what it did."""

    fetches: list[dict[TP, list[Record]]] = field(default_factory=list)
    flow_active: bool = True
    should_stop: bool = False
    earliest: int = 0
    _read_offset: dict[TP, int | None] = field(default_factory=dict)
    _buffered_partitions: set[TP] = field(default_factory=set)
    tracked: list[Message] = field(default_factory=list)
    gaps: list[tuple[TP, int, int]] = field(default_factory=list)
    seeks: list[dict[TP, int]] = field(default_factory=list)
    assigned: set[TP] = field(default_factory=lambda: {P0})

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, set[TP] | None]:
        return (self.fetches.pop(0) if self.fetches else {}), {P0}

    def _to_message(self, tp: TP, record: Record) -> Message:
        return Message(tp, record.offset)

    def track_message(self, message: Message) -> None:
        self.tracked.append(message)

    def ack(self, message: Message) -> None:
        message.acked = True

    async def _add_gap(self, tp: TP, first: int, last: int) -> None:
        await asyncio.sleep(0)  # as faust's: the loop runs other tasks here
        self.gaps.append((tp, first, last))

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, self.earliest)

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.seeks.append(offsets)
        for tp, offset in offsets.items():  # as faust's: its read offset follows the seek
            if offset > 0:
                self._read_offset[tp] = offset
            else:
                self._read_offset.pop(tp, None)

    async def perform_seek(self) -> None:
        """faust's seek of every partition to its committed offset (here: none changes)."""
        await asyncio.sleep(0)

    def unacked(self) -> list[Message]:
        return [m for m in self.tracked if not m.acked]


@dataclass
class Signal:
    """The part of mode's signals the intake uses: connect, and an awaited send."""

    receivers: list[Any] = field(default_factory=list)

    def connect(self, receiver: Any) -> None:
        self.receivers.append(receiver)

    async def send(self, *args: Any) -> None:
        for receiver in self.receivers:
            await receiver(self, *args, signal=self)


@dataclass
class App:
    consumer: Consumer
    consumer_generation_id: int = 1
    on_partitions_revoked: Signal = field(default_factory=Signal)
    on_partitions_assigned: Signal = field(default_factory=Signal)


@dataclass
class Handler:
    processed: list[int] = field(default_factory=list)

    async def __call__(self, batch: Sequence[Any]) -> None:
        self.processed += [record.offset for record in batch]


PROFILES = TP("candidate.profile", 0)


def intake(consumer: Consumer, *, ready: bool = True) -> tuple[BatchIntake, Handler]:
    """An installed intake; ``ready``: after a rebalance's seek to the committed offsets."""
    handler = Handler()
    batch_intake = BatchIntake(App(consumer), TOPIC, handler, streamed=frozenset({PROFILES.topic}))
    batch_intake.install()
    if ready:
        asyncio.run(rebalance(batch_intake))
    return batch_intake, handler


async def rebalance(batch_intake: BatchIntake, sought: dict[TP, int | None] | None = None) -> None:
    """What faust does in a rebalance, as far as the intake sees it."""
    app: Any = batch_intake.app
    await app.on_partitions_revoked.send(set())
    app.consumer_generation_id += 1
    await app.on_partitions_assigned.send(set())
    app.consumer._read_offset.update(sought or {})
    await app.consumer.perform_seek()


async def fetch(batch_intake: BatchIntake) -> None:
    async for _ in batch_intake.getmany(1.0):
        pass


def test_a_batch_is_processed_then_acknowledged_exactly() -> None:
    consumer = Consumer(fetches=[{P0: records(P0, 10, 14)}], _read_offset={P0: 10})
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [10, 11, 12, 13, 14]
    assert consumer.gaps == [(P0, 10, 13)]
    assert [m.offset for m in consumer.tracked] == [14] and not consumer.unacked()


def test_the_next_fetch_must_continue_where_processing_left_off() -> None:
    consumer = Consumer(
        fetches=[{P0: records(P0, 0, 4)}, {P0: records(P0, 8, 9)}], _read_offset={P0: 0}
    )
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    asyncio.run(fetch(batch_intake))
    # 5..7 were skipped on the way: nothing of the second fetch is processed or acknowledged,
    # and the consumer is sent back to 5.
    assert handler.processed == [0, 1, 2, 3, 4]
    assert consumer.seeks == [{P0: 5}]
    assert consumer.gaps == [(P0, 0, 3)]


def test_records_already_processed_are_skipped_after_a_seek_back() -> None:
    consumer = Consumer(
        fetches=[{P0: records(P0, 0, 4)}, {P0: records(P0, 2, 7)}], _read_offset={P0: 0}
    )
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [0, 1, 2, 3, 4, 5, 6, 7]
    assert consumer.gaps == [(P0, 0, 3), (P0, 5, 6)]


def test_a_range_the_log_no_longer_has_is_acknowledged_with_the_batch() -> None:
    consumer = Consumer(fetches=[{P0: records(P0, 50, 52)}], _read_offset={P0: 10}, earliest=50)
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [50, 51, 52]
    assert consumer.gaps == [(P0, 10, 51)] and consumer.seeks == []


def test_a_fetch_returning_during_a_rebalance_is_left_to_the_next_assignment() -> None:
    consumer = Consumer(fetches=[{P0: records(P0, 0, 4)}], _read_offset={P0: 0})
    consumer.flow_active = False
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [] and consumer.tracked == [] and consumer.gaps == []


def test_a_new_membership_starts_at_the_offset_faust_sought_to() -> None:
    consumer = Consumer(
        fetches=[{P0: records(P0, 0, 4)}, {P0: records(P0, 3, 6)}], _read_offset={P0: 0}
    )
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    # A rebalance: faust sought back to the committed offset 3 (offsets 3 and 4 were processed
    # but not committed: they come again, and the state's event ids make them duplicates).
    asyncio.run(rebalance(batch_intake, {P0: 3}))
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [0, 1, 2, 3, 4, 3, 4, 5, 6]


def test_nothing_is_processed_before_the_seek_to_the_committed_offsets() -> None:
    """faust resumes the partitions before its seek completes; a commit in between would be
    overwritten by the seek's older committed offset and stall the partition."""
    consumer = Consumer(fetches=[{P0: records(P0, 0, 4)}], _read_offset={P0: 0})
    batch_intake, handler = intake(consumer, ready=False)
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [] and consumer.tracked == []


def test_without_a_commit_reading_starts_at_the_log_start() -> None:
    """A fetch dropped before the seek moved the consumer on, and faust's seek does not move
    it back where nothing was committed: the intake does (records 0..4 once went unprocessed
    this way while the two-worker test's commits reached the end)."""
    consumer = Consumer(fetches=[{P0: records(P0, 0, 4)}, {}, {P0: records(P0, 0, 4)}])
    batch_intake, handler = intake(consumer, ready=False)
    asyncio.run(fetch(batch_intake))  # before the seek: dropped
    asyncio.run(rebalance(batch_intake, {P0: None}))  # nothing committed
    asyncio.run(fetch(batch_intake))  # sought back to the log's start, then read from there
    asyncio.run(fetch(batch_intake))
    assert consumer.seeks == [{P0: 0}]
    assert handler.processed == [0, 1, 2, 3, 4]


async def fetch_during_the_seek(
    batch_intake: BatchIntake, sought: dict[TP, int | None], flow_active: bool = True
) -> None:
    """A rebalance whose seek to the committed offsets is still running when a fetch returns
    (faust seeks partition by partition while its consumer thread goes on fetching)."""
    app: Any = batch_intake.app
    consumer = app.consumer
    await app.on_partitions_revoked.send(set())
    app.consumer_generation_id += 1
    await app.on_partitions_assigned.send(set())
    consumer._read_offset.update(sought)
    seek = asyncio.ensure_future(consumer.perform_seek())
    await asyncio.sleep(0)  # the seek began
    consumer.flow_active = flow_active
    await fetch(batch_intake)  # returns before the seek completed: dropped
    consumer.flow_active = True
    await seek


def test_a_dropped_last_record_is_read_again_without_a_later_one() -> None:
    """A record fetched after its partition's seek but before the whole seek completed is
    dropped, and when it is the partition's last, no later fetch shows the gap (a worker
    started after a rebuild once left the one new event unprocessed, partition committed at
    1139 of 1140, for good)."""
    consumer = Consumer(fetches=[{P0: records(P0, 1139, 1139)}, {}], _read_offset={P0: 1139})
    batch_intake, handler = intake(consumer, ready=False)
    asyncio.run(fetch_during_the_seek(batch_intake, {P0: 1139}))
    assert handler.processed == [] and consumer.seeks == []
    asyncio.run(fetch(batch_intake))  # nothing new follows: the intake seeks back itself
    assert consumer.seeks == [{P0: 1139}]
    consumer.fetches.append({P0: records(P0, 1139, 1139)})  # what the seek back reads
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [1139]
    assert [(m.offset, m.acked) for m in consumer.tracked] == [(1139, True)]
    asyncio.run(fetch(batch_intake))
    assert consumer.seeks == [{P0: 1139}], "read again once, not at every fetch"


def test_a_fetch_dropped_while_the_flow_is_stopped_is_read_again_after_the_seek() -> None:
    consumer = Consumer(fetches=[{P0: records(P0, 5, 6)}, {}, {}], _read_offset={P0: 5})
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch_during_the_seek(batch_intake, {P0: 5}, flow_active=False))
    asyncio.run(fetch(batch_intake))
    assert consumer.seeks == [{P0: 5}] and handler.processed == []


def test_a_drop_before_the_seek_began_is_left_to_it() -> None:
    """faust's seek to the committed offset reads it again: no second seek (and no second
    copy of a record the drain loop handed on meanwhile)."""
    consumer = Consumer(fetches=[{P0: records(P0, 5, 6)}, {}], _read_offset={P0: 5})
    batch_intake, _ = intake(consumer)
    consumer.flow_active = False
    asyncio.run(fetch(batch_intake))  # a rebalance began: dropped
    consumer.flow_active = True
    asyncio.run(rebalance(batch_intake, {P0: 5}))
    asyncio.run(fetch(batch_intake))
    assert consumer.seeks == []


def test_profile_records_dropped_during_the_seek_are_read_again_from_the_read_offset() -> None:
    """faust's own stream path would count the skipped profile records as done at its next
    gap (its drain loop acknowledges the range between its read offset and the next record)."""
    changelog = TP("candidates-changelog", 0)
    consumer = Consumer(
        fetches=[{PROFILES: records(PROFILES, 7, 9), changelog: records(changelog, 3, 3)}, {}],
        _read_offset={P0: 0},
    )
    consumer.assigned = {P0, PROFILES, changelog}
    consumer._buffered_partitions.update({PROFILES, changelog})
    batch_intake, _ = intake(consumer)
    asyncio.run(fetch_during_the_seek(batch_intake, {PROFILES: 7}, flow_active=False))
    asyncio.run(fetch(batch_intake))
    # The changelog is faust's recovery's to position: never sought here.
    assert consumer.seeks == [{PROFILES: 7}]


def test_a_partition_no_longer_assigned_is_not_sought() -> None:
    consumer = Consumer(fetches=[{P0: records(P0, 0, 1)}, {}], _read_offset={P0: 0})
    batch_intake, handler = intake(consumer, ready=False)
    asyncio.run(fetch(batch_intake))
    consumer.assigned = set()  # the rebalance moved it to another worker
    asyncio.run(rebalance(batch_intake))
    asyncio.run(fetch(batch_intake))
    assert consumer.seeks == [] and handler.processed == []


def test_a_seek_overtaken_by_the_next_rebalance_does_not_count() -> None:
    consumer = Consumer(fetches=[{P0: records(P0, 0, 4)}], _read_offset={P0: 0})
    batch_intake, handler = intake(consumer, ready=False)
    app: Any = batch_intake.app

    async def overtaken() -> None:
        seek = asyncio.ensure_future(consumer.perform_seek())
        await asyncio.sleep(0)  # the seek began
        await app.on_partitions_revoked.send(set())  # and a rebalance overtakes it
        await seek

    asyncio.run(overtaken())
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [] and not batch_intake.ready


def test_a_hole_the_log_has_no_records_in_is_passed_after_one_re_read() -> None:
    """Transaction markers take offsets the consumer never returns: after reading again from
    the expected offset, the log's next record is still the same one."""
    consumer = Consumer(
        fetches=[{P0: records(P0, 0, 4)}, {P0: records(P0, 6, 7)}, {P0: records(P0, 6, 7)}],
        _read_offset={P0: 0},
    )
    batch_intake, handler = intake(consumer)
    for _ in range(3):
        asyncio.run(fetch(batch_intake))
    assert consumer.seeks == [{P0: 5}]
    assert handler.processed == [0, 1, 2, 3, 4, 6, 7]
    assert consumer.gaps == [(P0, 0, 3), (P0, 5, 6)]


def test_a_broker_error_while_a_gap_is_looked_into_only_defers_it() -> None:
    consumer = Consumer(
        fetches=[{P0: records(P0, 0, 4)}, {P0: records(P0, 8, 9)}], _read_offset={P0: 0}
    )

    async def unavailable(*tps: TP) -> dict[TP, int]:
        raise KafkaTimeoutError("earliest offsets")

    consumer.earliest_offsets = unavailable  # type: ignore[method-assign]
    batch_intake, handler = intake(consumer)
    asyncio.run(fetch(batch_intake))
    asyncio.run(fetch(batch_intake))
    assert handler.processed == [0, 1, 2, 3, 4] and consumer.seeks == []
    # The records of the fetch are not lost for it: the next fetch reads from 5 again.
    asyncio.run(fetch(batch_intake))
    assert consumer.seeks == [{P0: 5}]


@pytest.mark.parametrize("cancel_after_yields", [0, 1, 2])
def test_a_stop_during_the_acknowledgement_leaves_nothing_tracked(cancel_after_yields: int) -> None:
    """faust's stop cancels the intake; a tracked record left unacknowledged would make its
    wait_empty wait for ever (a worker that does not stop)."""
    p1 = TP(TOPIC, 1)
    consumer = Consumer(
        fetches=[{P0: records(P0, 0, 4), p1: records(p1, 0, 4)}], _read_offset={P0: 0, p1: 0}
    )
    consumer._buffered_partitions.add(p1)

    batch_intake, _ = intake(consumer)

    async def run() -> None:
        task = asyncio.ensure_future(fetch(batch_intake))
        while len(consumer.tracked) < 2:  # the batch is being handled
            await asyncio.sleep(0)
        for _ in range(cancel_after_yields):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(10):  # the shielded acknowledgement finishes on its own
            await asyncio.sleep(0)

    asyncio.run(run())
    assert len(consumer.tracked) == 2 and not consumer.unacked()
