"""Outbox: the records one batch produces, published as one Kafka record batch per partition.

Why not faust's ``table[key] = row`` and ``topic.send_soon``: those queue every record as its own
future through faust's producer buffer (tens of microseconds each, and the conductor stalls the
stream while the buffer drains), which capped the worker far below the consumer's speed. The
agent instead writes rows to the table's local store directly (``table.data``), collects the
changelog, engagement and dead-letter records here, and submits each partition's records as one
aiokafka batch, and :class:`Publisher` waits for the acknowledgements (outputs first, changelog
last) before the step's rows are written locally and its offsets may be committed. The changelog
records are the same ones ``table[key] = row`` would send (raw key, row bytes, the partition of
the candidate's events), so recovery and standby replicas read them as usual.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from schemas.kafka_seam.partitioner import key_partition
from streams.worker import faust_seam
from streams.worker.liveness import crash_process

__all__ = ["Outbox", "Publisher", "key_partition"]

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
Record = tuple[bytes | None, bytes | None, Headers | None]


class Outbox:
    """Records to publish, grouped by (topic, partition), in the order they were added."""

    def __init__(self, partitions: Mapping[str, int]) -> None:
        #: Partition count of each output topic (full names).
        self.partitions = partitions
        self.records: defaultdict[tuple[str, int], list[Record]] = defaultdict(list)

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Queue a record; without ``partition`` a keyed record goes where the key hashes to."""
        if partition is None:
            partition = key_partition(key, self.partitions[topic]) if key is not None else 0
        self.records[(topic, partition)].append((key, value, headers))

    def __len__(self) -> int:
        return sum(map(len, self.records.values()))


class Publisher:
    """Submits an :class:`Outbox` through faust's own aiokafka producer and waits until Kafka
    acknowledged all of it: the outputs first, the changelog last."""

    def __init__(self, app: Any, changelog_topic: str) -> None:
        self.app = app
        self.changelog_topic = changelog_topic

    async def publish(self, outbox: Outbox) -> dict[int, int]:
        """Publish ``outbox``; returns the last changelog offset written per partition.

        Two phases: every output record (engagement, actions, suppression, dead letters) is
        acknowledged before any changelog record is sent. The changelog is what recovery
        restores rows from, and a restored row makes the redelivered events duplicates that
        cause nothing; so a row may reach the changelog only once everything it caused is in
        Kafka. Returns once every record is acknowledged (acks=all); a record that cannot be
        published exits the process before faust can commit offsets whose output was lost.
        """
        producer = faust_seam.aiokafka_producer(self.app)
        outputs = {tp: r for tp, r in outbox.records.items() if tp[0] != self.changelog_topic}
        changelog = {tp: r for tp, r in outbox.records.items() if tp[0] == self.changelog_topic}
        await self._acknowledged(await self._send(producer, outputs))
        return await self._acknowledged(await self._send(producer, changelog))

    async def _send(
        self, producer: Any, records: dict[tuple[str, int], list[Record]]
    ) -> list[tuple[Any, str, int, int]]:
        sent: list[tuple[Any, str, int, int]] = []
        for (topic, partition), rows in records.items():
            batch = producer.create_batch()
            for key, value, headers in rows:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    sent.append(await self._submit(producer, batch, topic, partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
            sent.append(await self._submit(producer, batch, topic, partition))
        return sent

    async def _acknowledged(self, sent: list[tuple[Any, str, int, int]]) -> dict[int, int]:
        """Wait for every batch of ``sent``; the last changelog offset per partition."""
        persisted: dict[int, int] = {}
        for future, topic, partition, count in sent:
            try:
                metadata = await future
            except Exception as exc:
                crash_process(f"could not publish {count} records to {topic}[{partition}]: {exc!r}")
                raise
            if topic == self.changelog_topic:
                last = metadata.offset + count - 1
                persisted[partition] = max(persisted.get(partition, last), last)
        return persisted

    @staticmethod
    async def _submit(
        producer: Any, batch: Any, topic: str, partition: int
    ) -> tuple[Any, str, int, int]:
        batch.close()
        future = await producer.send_batch(batch, topic, partition=partition)
        return future, topic, partition, batch.record_count()
