"""The in-memory twin of the Kafka seam: a cluster in a dict, for pure tests.

:class:`MemoryCluster` keeps each topic's partitions as lists of :class:`StoredRecord`;
:meth:`MemoryCluster.reader`, :meth:`~MemoryCluster.sink` and :meth:`~MemoryCluster.admin` give
the :mod:`~schemas.kafka_seam.proto` roles over it. It behaves as the broker does where
components can tell (``tests/test_kafka_seam_conformance.py`` runs the same suite on both):
offsets from 0 per partition, keyed records on :func:`key_partition`'s partition, reads up to
the end offsets taken at their start. Not modelled: compaction, retention, timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from schemas.kafka_seam.partitioner import key_partition
from schemas.kafka_seam.proto import Record, TopicPartition


@dataclass(frozen=True)
class StoredRecord:
    """A record as the twin stores and returns it (the fields of :class:`proto.Record`)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass
class MemoryCluster:
    """Topics in memory: ``topics[name][partition]`` is the partition's log."""

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
        record = StoredRecord(topic, partition, len(records), int(time.time() * 1000), key, value)
        records.append(record)
        return record

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
        return {
            TopicPartition(*tp): len(self.cluster.topics[tp.topic][tp.partition])
            for tp in partitions
        }

    def read_to(self, end: Mapping[TopicPartition, int], timeout_s: float) -> Iterator[Record]:
        for given, stop in end.items():
            tp = TopicPartition(*given)
            log = self.cluster.topics[tp.topic][tp.partition]
            while self.positions[tp] < stop:
                record = log[self.positions[tp]]
                self.positions[tp] += 1
                yield record

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
