"""Read a topic, or some of its partitions, to the end offsets taken when the read starts.

The one read-to-end loop behind the delivery consumer's views (:mod:`consumers.mirror`), the key
topic scans of erasure and key rotation (:mod:`producers.key_topic`), ``nurture erasure verify``
(:mod:`deploy.erasure.topic_scan`), ``nurture campaigns simulate --candidate``
(:mod:`streams.candidate_reader`), and, with :func:`read_range`, replay's offset ranges
(:mod:`streams.replay.reader`). :class:`KafkaTopicReader` is the kafka-python
:class:`~schemas.kafka_seam.proto.TopicReader`; the in-memory twin is in
:mod:`schemas.kafka_seam.memory`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kafka import TopicPartition as KafkaTopicPartition

from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam import clients
from schemas.kafka_seam.proto import ReadStalledError, Record, TopicPartition, TopicReader
from schemas.settings import KafkaSettings

#: Longest wait of one poll while reading (milliseconds).
POLL_MS = 200


class KafkaTopicReader:
    """:class:`~schemas.kafka_seam.proto.TopicReader` over a group-less kafka-python consumer."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    def partitions_for(self, topic: str) -> list[TopicPartition]:
        ids = self.consumer.partitions_for_topic(topic) or ()
        return [TopicPartition(topic, p) for p in sorted(ids)]

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        assigned = [_kafka(tp) for tp in partitions]
        self.consumer.assign(assigned)
        if assigned:
            self.consumer.seek_to_beginning(*assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.consumer.seek(_kafka(partition), offset)

    def end_offsets(
        self, partitions: Sequence[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, int]:
        ends = self.consumer.end_offsets(
            [_kafka(tp) for tp in partitions], timeout_ms=int(1000 * timeout_s)
        )
        return {TopicPartition(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    def beginning_offsets(
        self, partitions: Sequence[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, int]:
        starts = self.consumer.beginning_offsets(
            [_kafka(tp) for tp in partitions], timeout_ms=int(1000 * timeout_s)
        )
        return {TopicPartition(tp.topic, tp.partition): offset for tp, offset in starts.items()}

    def offsets_for_times(
        self, partitions: Sequence[TopicPartition], at_ms: int, timeout_s: float
    ) -> dict[TopicPartition, int | None]:
        found = self.consumer.offsets_for_times(
            {_kafka(tp): at_ms for tp in partitions}, timeout_ms=int(1000 * timeout_s)
        )
        return {
            TopicPartition(tp.topic, tp.partition): None if hit is None else hit.offset
            for tp, hit in found.items()
        }

    def read_to(
        self,
        end: Mapping[TopicPartition, int],
        timeout_s: float | None,
        *,
        stall_timeout_s: float | None = None,
        max_records: int | None = None,
    ) -> Iterator[Record]:
        consumer = self.consumer
        stops = {_kafka(tp): offset for tp, offset in end.items()}
        pending = {tp for tp, stop in stops.items() if consumer.position(tp) < stop}
        # Partitions at their end (and any other assigned) stay paused, so a poll fetches only
        # what is still to read; all are resumed at the end.
        consumer.pause(*(set(consumer.assignment()) - pending))
        limit = {} if max_records is None else {"max_records": max_records}
        started = last_record = time.monotonic()
        try:
            while pending:
                now = time.monotonic()
                if timeout_s is not None and now - started > timeout_s:
                    topics = ", ".join(sorted({tp.topic for tp in pending}))
                    raise KafkaUnavailableError(
                        f"could not read {topics} to the end in {timeout_s}s"
                    )
                if stall_timeout_s is not None and now - last_record > stall_timeout_s:
                    tp = min(pending)
                    raise ReadStalledError(
                        TopicPartition(tp.topic, tp.partition),
                        consumer.position(tp),
                        stops[tp],
                        stall_timeout_s,
                    )
                before = {tp: consumer.position(tp) for tp in pending}
                for tp, records in consumer.poll(timeout_ms=POLL_MS, **limit).items():
                    stop = stops[tp]
                    for record in records:
                        if record.offset >= stop:  # written after the read began: left for later
                            consumer.seek(tp, record.offset)
                            break
                        yield record
                # Every pending partition, not only those that returned records: a fetch can
                # move the position past a transaction marker or an aborted batch and return
                # no record, which is progress, and may be the end.
                for tp in list(pending):
                    position = consumer.position(tp)
                    if position != before[tp]:
                        last_record = time.monotonic()
                    if position >= stops[tp]:
                        pending.discard(tp)
                        consumer.pause(tp)
        finally:
            consumer.resume(*consumer.assignment())

    def close(self) -> None:
        self.consumer.close()


def read_to_end(
    reader: TopicReader, partitions: Sequence[TopicPartition], *, timeout_s: float
) -> Iterator[Record]:
    """Every record of ``partitions`` from their beginning to the end offsets taken now (the
    reader stays assigned there: ``reader.read_to`` reads on). KafkaUnavailableError when that
    takes longer than ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    reader.assign(partitions)
    end = reader.end_offsets(partitions, timeout_s)
    yield from reader.read_to(end, max(0.0, deadline - time.monotonic()))


def read_range(  # noqa: PLR0913 - a range, and how long to wait for it
    reader: TopicReader,
    partition: TopicPartition,
    start: int,
    end: int,
    *,
    stall_timeout_s: float | None = None,
    max_records: int | None = None,
) -> Iterator[Record]:
    """The records of ``partition`` with ``start <= offset < end``, in offset order (a compacted
    topic skips the offsets it removed), reading that partition alone: the reader is assigned
    it only. No overall deadline: :class:`~schemas.kafka_seam.proto.ReadStalledError` when no
    record comes for ``stall_timeout_s`` (None: wait on); at most ``max_records`` per poll."""
    if end <= start:
        return
    reader.assign([partition])
    reader.seek(partition, start)
    yield from reader.read_to(
        {partition: end}, None, stall_timeout_s=stall_timeout_s, max_records=max_records
    )


def open_reader(kafka: KafkaSettings, **options: Any) -> KafkaTopicReader:
    """A :class:`KafkaTopicReader` on a new group-less consumer (commits nothing).

    :class:`~schemas.errors.KafkaUnavailableError` (with the cause in words: refused login,
    TLS, nobody listening) when Kafka cannot be reached.
    """
    with clients.explained(kafka):
        consumer = clients.consumer(kafka, enable_auto_commit=False, group_id=None, **options)
    return KafkaTopicReader(consumer)


def _kafka(tp: TopicPartition | KafkaTopicPartition) -> KafkaTopicPartition:
    return KafkaTopicPartition(tp.topic, tp.partition)
