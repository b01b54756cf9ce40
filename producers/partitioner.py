"""The SDK's partitioner: kafka-python's key hashing, remembered per key.

Records are keyed by ``candidate_id`` and a candidate sends many events, so the same keys come
back again and again. kafka-python's :class:`DefaultPartitioner` runs a pure-Python murmur2 over
every key (about a fifth of ``KafkaProducer.send``); this one keeps the hash of recent keys.
It picks exactly the partition the default partitioner (and the Java client) picks, so records
of one candidate land on the same partition whichever client wrote them.
"""

from __future__ import annotations

from typing import Any

from kafka.partitioner.default import DefaultPartitioner, murmur2
from typing_extensions import override

#: Keys whose hash is remembered; the memo starts over when full (keeps memory bounded).
MEMO_SIZE = 100_000


class MemoizedKeyPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """``murmur2(key) % partitions`` like the default, with the hash of recent keys memoised."""

    def __init__(self, memo_size: int = MEMO_SIZE) -> None:
        self._memo_size = memo_size
        self._hashes: dict[bytes, int] = {}

    def key_hash(self, serialized_key: bytes) -> int:
        """The non-negative murmur2 hash of ``serialized_key`` (as the Java client computes it)."""
        found = self._hashes.get(serialized_key)
        if found is None:
            if len(self._hashes) >= self._memo_size:
                self._hashes.clear()
            found = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        return found

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
        return self.key_hash(serialized_key) % len(partitions)
