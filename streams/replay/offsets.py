"""Offset ranges to replay: per partition, from a time (or the beginning) to a time (or the end).

``offsets_for_times`` gives, per partition, the earliest offset whose record timestamp is at or
after the time asked for (None when no such record exists: the range is then empty from that
side). The end is fixed when the range is planned, so a replay stops at a known point even while
producers keep writing; a rebuild commits exactly these end offsets for the worker. The offsets
come from the Kafka seam's reader (:class:`~schemas.kafka_seam.proto.TopicReader`).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.kafka_seam.proto import TopicPartition, TopicReader
from streams.replay.errors import ReplayError

#: Longest wait for the offsets of a topic's partitions (seconds; kafka-python's default
#: request timeout, which the planning waited before it went through the seam).
OFFSETS_TIMEOUT_S = 30.0


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


def partitions_of(topics: TopicReader, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``; :class:`ReplayError` when it does not exist."""
    partitions = topics.partitions_for(topic)
    if not partitions:
        raise ReplayError(f"topic {topic} does not exist (nurture topics create?)")
    return partitions


def plan_ranges(
    topics: TopicReader, topic: str, from_ms: int | None, to_ms: int | None
) -> list[PartitionRange]:
    """Per partition of ``topic``: the offsets of records with ``from_ms <= timestamp < to_ms``
    (None: from the beginning / to the current end), by offsets for times."""
    tps = partitions_of(topics, topic)
    first = topics.beginning_offsets(tps, OFFSETS_TIMEOUT_S)
    last = topics.end_offsets(tps, OFFSETS_TIMEOUT_S)
    starts = _offsets_at(topics, tps, from_ms, first, last)
    ends = _offsets_at(topics, tps, to_ms, last, last)
    return [
        PartitionRange(topic, tp.partition, starts[tp], max(starts[tp], ends[tp])) for tp in tps
    ]


def _offsets_at(
    topics: TopicReader,
    tps: list[TopicPartition],
    at_ms: int | None,
    default: dict[TopicPartition, int],
    last: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if at_ms is None:
        return dict(default)
    found = topics.offsets_for_times(tps, at_ms, OFFSETS_TIMEOUT_S)
    return {tp: last[tp] if (offset := found.get(tp)) is None else offset for tp in tps}
