"""Reading offset ranges back from Kafka, and the order a replay applies records in.

**The order.** Within a partition (activity and profile are co-partitioned by candidate id),
activity events keep their offset order and each profile record is applied before the first
activity event whose record timestamp is later than or equal to the profile's: profiles and
activity are merged by Kafka timestamp, a profile first on a tie. The live worker reads the two
topics with two agents, so it sees the same order whenever a profile was processed before the
events that came after it, which is what a profile published (and acknowledged) earlier gives.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Literal

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from streams.replay.errors import ReplayError
from streams.replay.offsets import PartitionRange, plan_ranges

Source = Literal["activity", "profile"]

#: Longest a range may go without a single new record before the read gives up (seconds).
STALL_TIMEOUT_S = 60.0


def read_range(
    consumer: KafkaConsumer, rng: PartitionRange, *, max_records: int = 10_000
) -> Iterator[ConsumerRecord]:
    """Every record of ``rng`` in offset order (compacted topics may skip offsets)."""
    if rng.size == 0:
        return
    tp = TopicPartition(rng.topic, rng.partition)
    consumer.assign([tp])
    consumer.seek(tp, rng.start)
    last_progress = time.monotonic()
    while True:
        records = consumer.poll(timeout_ms=500, max_records=max_records).get(tp, [])
        for record in records:
            if record.offset >= rng.end:
                return
            yield record
        if consumer.position(tp) >= rng.end:
            return
        if records:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_TIMEOUT_S:
            raise ReplayError(
                f"{rng.topic}[{rng.partition}]: no records for {STALL_TIMEOUT_S:.0f}s at offset "
                f"{consumer.position(tp)} (range ends at {rng.end})"
            )


def merged(
    profiles: list[ConsumerRecord], activity: Iterable[ConsumerRecord]
) -> Iterator[tuple[Source, ConsumerRecord]]:
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
    consumer: KafkaConsumer, topic: str, from_ms: int | None = None, to_ms: int | None = None
) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` with ``from_ms <= timestamp < to_ms`` (by ``offsets_for_times``;
    None: from the beginning / to the current end), partition by partition."""
    for rng in plan_ranges(consumer, topic, from_ms, to_ms):
        yield from read_range(consumer, rng)
