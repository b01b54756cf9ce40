"""The in-memory twin of the Kafka seam: a cluster in a dict, for pure tests.

:class:`MemoryCluster` keeps each topic's partitions as lists of :class:`StoredRecord`;
:meth:`MemoryCluster.reader`, :meth:`~MemoryCluster.sink` and :meth:`~MemoryCluster.admin` give
the :mod:`~schemas.kafka_seam.proto` roles over it. It behaves as the broker does where
components can tell (``tests/test_kafka_seam_conformance.py`` runs the same suite on both):
offsets from 0 per partition, keyed records on :func:`key_partition`'s partition, reads up to
the end offsets taken at their start, compaction on request (:meth:`MemoryCluster.compact`:
offsets keep their gaps). Not modelled: retention, and waiting: a read short of its end fails at
once (nothing can be written while the twin runs), with the error a timeout gives.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam.partitioner import key_partition
from schemas.kafka_seam.proto import ReadStalledError, Record, TopicPartition


@dataclass(frozen=True)
class StoredRecord:
    """A record as the twin stores and returns it (the fields of :class:`proto.Record`)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def end_offset(log: Sequence[StoredRecord]) -> int:
    """The offset after the last record of a partition's log (compaction keeps the last one)."""
    return log[-1].offset + 1 if log else 0


@dataclass
class MemoryCluster:
    """Topics in memory: ``topics[name][partition]`` is the partition's log, in offset order
    (with gaps once compacted)."""

    topics: dict[str, list[list[StoredRecord]]] = field(default_factory=dict)
    configs: dict[str, dict[str, str]] = field(default_factory=dict)

    def append(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> StoredRecord:
        """Write one record now (KeyError when the topic does not exist)."""
        log = self.topics[topic]
        if partition is None:
            partition = key_partition(key, len(log)) if key is not None else 0
        records = log[partition]
        now_ms = int(time.time() * 1000)
        record = StoredRecord(topic, partition, end_offset(records), now_ms, key, value)
        records.append(record)
        return record

    def compact(self, topic: str) -> None:
        """What the log cleaner leaves of ``topic``: the last record of each key per partition
        (records without a key stay); the offsets of the others become gaps."""
        for records in self.topics[topic]:
            last = {r.key: r.offset for r in records if r.key is not None}
            records[:] = [r for r in records if r.key is None or last[r.key] == r.offset]

    def reader(self) -> MemoryReader:
        return MemoryReader(self)

    def sink(self) -> MemorySink:
        return MemorySink(self)

    def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self)


class MemoryReader:
    """:class:`~schemas.kafka_seam.proto.TopicReader` over a :class:`MemoryCluster`."""

    def __init__(self, cluster: MemoryCluster) -> None:
        self.cluster = cluster
        self.positions: dict[TopicPartition, int] = {}

    def partitions_for(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in range(len(self.cluster.topics.get(topic, ())))]

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self.positions = {TopicPartition(*tp): 0 for tp in partitions}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[TopicPartition(*partition)] = offset

    def end_offsets(
        self, partitions: Sequence[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, int]:
        return {TopicPartition(*tp): end_offset(self._log(tp)) for tp in partitions}

    def beginning_offsets(
        self, partitions: Sequence[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, int]:
        return {TopicPartition(*tp): 0 for tp in partitions}  # no retention: nothing deleted

    def offsets_for_times(
        self, partitions: Sequence[TopicPartition], at_ms: int, timeout_s: float
    ) -> dict[TopicPartition, int | None]:
        return {
            TopicPartition(*tp): next(
                (r.offset for r in self._log(tp) if r.timestamp >= at_ms), None
            )
            for tp in partitions
        }

    def read_to(
        self,
        end: Mapping[TopicPartition, int],
        timeout_s: float | None,
        *,
        stall_timeout_s: float | None = None,
        max_records: int | None = None,
    ) -> Iterator[Record]:
        for given, stop in end.items():
            tp = TopicPartition(*given)
            log = self._log(tp)
            while self.positions[tp] < stop:
                at = bisect.bisect_left(log, self.positions[tp], key=lambda r: r.offset)
                if at == len(log):  # short of the end, and nothing else can come
                    if stall_timeout_s is not None:
                        raise ReadStalledError(tp, self.positions[tp], stop, stall_timeout_s)
                    raise KafkaUnavailableError(
                        f"could not read {tp.topic} to the end in {timeout_s}s"
                    )
                record = log[at]
                if record.offset >= stop:  # the range ends in a gap: go on from the next record
                    self.positions[tp] = record.offset
                    break
                self.positions[tp] = record.offset + 1
                yield record

    def _log(self, tp: TopicPartition) -> list[StoredRecord]:
        return self.cluster.topics[tp.topic][tp.partition]

    def close(self) -> None:
        self.positions = {}


class MemorySink:
    """:class:`~schemas.kafka_seam.proto.RecordSink` into a :class:`MemoryCluster` (each record
    is acknowledged as it is sent)."""

    def __init__(self, cluster: MemoryCluster) -> None:
        self.cluster = cluster

    def send(
        self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None
    ) -> None:
        self.cluster.append(topic, key, value, partition)

    def flush(self, timeout_s: float) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryAdmin:
    """:class:`~schemas.kafka_seam.proto.TopicAdmin` of a :class:`MemoryCluster`."""

    def __init__(self, cluster: MemoryCluster) -> None:
        self.cluster = cluster

    def create_topic(self, name: str, partitions: int, configs: Mapping[str, str]) -> bool:
        if name in self.cluster.topics:
            return False
        self.cluster.topics[name] = [[] for _ in range(partitions)]
        self.cluster.configs[name] = dict(configs)
        return True

    def partition_count(self, name: str) -> int | None:
        found = self.cluster.topics.get(name)
        return None if found is None else len(found)

    def delete_topics(self, names: Sequence[str]) -> None:
        for name in names:
            self.cluster.topics.pop(name, None)
            self.cluster.configs.pop(name, None)

    def list_topics(self) -> list[str]:
        return sorted(self.cluster.topics)
