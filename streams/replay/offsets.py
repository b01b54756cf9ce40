"""Offset ranges to replay: per partition, from a time (or the beginning) to a time (or the end).

``offsets_for_times`` gives, per partition, the earliest offset whose record timestamp is at or
after the time asked for (None when no such record exists: the range is then empty from that
side). The end is fixed when the range is planned, so a replay stops at a known point even while
producers keep writing; a rebuild commits exactly these end offsets for the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from streams.replay.errors import ReplayError


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """Offsets ``[start, end)`` of one topic partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def partitions_of(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``; :class:`ReplayError` when it does not exist."""
    ids = consumer.partitions_for_topic(topic)
    if not ids:
        raise ReplayError(f"topic {topic} does not exist (nurture topics create?)")
    return [TopicPartition(topic, p) for p in sorted(ids)]


def plan_ranges(
    consumer: KafkaConsumer, topic: str, from_ms: int | None, to_ms: int | None
) -> list[PartitionRange]:
    """Per partition of ``topic``: the offsets of records with ``from_ms <= timestamp < to_ms``
    (None: from the beginning / to the current end), by ``offsets_for_times``."""
    tps = partitions_of(consumer, topic)
    first = consumer.beginning_offsets(tps)
    last = consumer.end_offsets(tps)
    starts = _offsets_at(consumer, tps, from_ms, first, last)
    ends = _offsets_at(consumer, tps, to_ms, last, last)
    return [
        PartitionRange(topic, tp.partition, starts[tp], max(starts[tp], ends[tp])) for tp in tps
    ]


def _offsets_at(
    consumer: KafkaConsumer,
    tps: list[TopicPartition],
    at_ms: int | None,
    default: dict[TopicPartition, int],
    last: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if at_ms is None:
        return dict(default)
    found = consumer.offsets_for_times(dict.fromkeys(tps, at_ms))
    return {tp: last[tp] if found.get(tp) is None else found[tp].offset for tp in tps}
