"""Reading offset ranges back from Kafka, and the order a replay applies records in.

Records are read through the Kafka seam's reader (:mod:`schemas.kafka_seam.reader`); this module
adds replay's limits (the stall timeout, the records per poll) and its errors.

**The order.** Within a partition (activity and profile are co-partitioned by candidate id),
activity events keep their offset order and each profile record is applied before the first
activity event whose record timestamp is later than or equal to the profile's: profiles and
activity are merged by Kafka timestamp, a profile first on a tie. The live worker reads the two
topics with two agents, so it sees the same order whenever a profile was processed before the
events that came after it, which is what a profile published (and acknowledged) earlier gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from schemas.kafka_seam import clients, reader
from schemas.kafka_seam.proto import ReadStalledError, Record, TopicPartition, TopicReader
from schemas.settings import KafkaSettings
from streams.replay.errors import ReplayError
from streams.replay.offsets import PartitionRange, plan_ranges

Source = Literal["activity", "profile"]

#: Longest a range may go without a single new record before the read gives up (seconds).
STALL_TIMEOUT_S = 60.0


@contextmanager
def topic_reader(kafka: KafkaSettings, **options: Any) -> Iterator[TopicReader]:
    """A seam reader on a new group-less consumer (commits nothing), closed afterwards;
    ``options`` are the consumer's (e.g. fetch sizes). A broker that cannot be reached raises
    kafka-python's error, which the CLI reports."""
    topics = reader.KafkaTopicReader(clients.consumer(kafka, enable_auto_commit=False, **options))
    try:
        yield topics
    finally:
        topics.close()


def read_range(
    topics: TopicReader, rng: PartitionRange, *, max_records: int = 10_000
) -> Iterator[Record]:
    """Every record of ``rng`` in offset order (compacted topics may skip offsets);
    :class:`ReplayError` when no record comes for :data:`STALL_TIMEOUT_S`."""
    if rng.size == 0:
        return
    partition = TopicPartition(rng.topic, rng.partition)
    try:
        yield from reader.read_range(
            topics,
            partition,
            rng.start,
            rng.end,
            stall_timeout_s=STALL_TIMEOUT_S,
            max_records=max_records,
        )
    except ReadStalledError as exc:
        raise ReplayError(str(exc)) from exc


def merged(
    profiles: Sequence[Record], activity: Iterable[Record]
) -> Iterator[tuple[Source, Record]]:
    """Profile and activity records of one partition in replay order (see the module doc)."""
    next_profile = 0
    for record in activity:
        while next_profile < len(profiles) and profiles[next_profile].timestamp <= record.timestamp:
            yield "profile", profiles[next_profile]
            next_profile += 1
        yield "activity", record
    for record in profiles[next_profile:]:
        yield "profile", record


def read_topic(
    topics: TopicReader, topic: str, from_ms: int | None = None, to_ms: int | None = None
) -> Iterator[Record]:
    """Every record of ``topic`` with ``from_ms <= timestamp < to_ms`` (by offsets for times;
    None: from the beginning / to the current end), partition by partition."""
    for rng in plan_ranges(topics, topic, from_ms, to_ms):
        yield from read_range(topics, rng)
