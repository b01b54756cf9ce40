"""The one key partitioner: Kafka's default murmur2, as the Java client and kafka-python hash.

Records are keyed by ``candidate_id``, and the worker refuses a record that is not on the
partition its key hashes to, so every producer of the project (SDK on kafka-python, gateway on
aiokafka, the worker's outbox) must pick exactly this partition. murmur2 runs in pure Python
(about 2-5 µs per key) and candidates send many events, so the result is memoised per
``(key, partitions)``: bounded (least recently used keys go first).

:class:`KafkaPythonPartitioner` and :class:`AioKafkaPartitioner` plug it into the two clients.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from kafka.partitioner.default import DefaultPartitioner, murmur2
from typing_extensions import override

#: Distinct ``(key, partitions)`` pairs remembered; older ones are evicted first.
MEMO_SIZE = 1 << 17


@lru_cache(maxsize=MEMO_SIZE)
def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` on a topic of ``partitions``
    partitions: ``(murmur2(key) & 0x7FFFFFFF) % partitions``, as the Java client computes it."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


class KafkaPythonPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """kafka-python's ``partitioner=`` with :func:`key_partition` for keyed records (unkeyed
    ones go where kafka-python's default puts them)."""

    @override
    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: bytes | None,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return int(
                super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            )
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        # Kafka numbers partitions 0..n-1, so the default's sorted(partitions)[i] is i.
        return key_partition(serialized_key, len(partitions))


class AioKafkaPartitioner:
    """aiokafka's ``partitioner=`` callable with :func:`key_partition` for keyed records
    (unkeyed ones go where aiokafka's default puts them)."""

    def __init__(self) -> None:
        # aiokafka is imported when used: the SDK (kafka-python) does not load it.
        from aiokafka.partitioner import DefaultPartitioner  # noqa: PLC0415

        self._unkeyed = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(self._unkeyed(key, all_partitions, available))
        return self.partition_of(key, all_partitions)

    @staticmethod
    def partition_of(key: bytes, all_partitions: list[int]) -> int:
        """The partition of ``key`` among the topic's partitions (sorted ids)."""
        return all_partitions[key_partition(key, len(all_partitions))]
