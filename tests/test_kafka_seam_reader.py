"""The broker reader's own logic (schemas/kafka_seam/reader.py) on a scripted consumer: a poll
that fetches past the end offsets of a read hands out only what is below them and leaves the
rest for the next read (the broker suite cannot make a fetch straddle the end on purpose), and a
read ends at a transaction marker that no poll returns (also against the broker)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from kafka import TopicPartition as KafkaTopicPartition

from schemas.kafka_seam import clients, topic_admin
from schemas.kafka_seam.memory import StoredRecord
from schemas.kafka_seam.proto import TopicPartition
from schemas.kafka_seam.reader import KafkaTopicReader, open_reader, read_range
from schemas.settings import KafkaSettings
from tests.kafka_helpers import unique


class _GreedyConsumer:
    """A kafka-python consumer whose every poll fetches each resumed partition to its log end
    (as a real fetch may: it does not know where a read wants to stop)."""

    def __init__(self, logs: dict[KafkaTopicPartition, int]) -> None:
        self.logs = logs
        self.positions = dict.fromkeys(logs, 0)
        self.paused: set[KafkaTopicPartition] = set()

    def assignment(self) -> set[KafkaTopicPartition]:
        return set(self.logs)

    def position(self, tp: KafkaTopicPartition) -> int:
        return self.positions[tp]

    def seek(self, tp: KafkaTopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def pause(self, *tps: KafkaTopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: KafkaTopicPartition) -> None:
        self.paused.difference_update(tps)

    def poll(self, timeout_ms: int) -> dict[KafkaTopicPartition, list[StoredRecord]]:
        fetched: dict[KafkaTopicPartition, list[StoredRecord]] = {}
        for tp, size in self.logs.items():
            start = self.positions[tp]
            if tp in self.paused or start >= size:
                continue
            fetched[tp] = [
                StoredRecord(tp.topic, tp.partition, offset, 0, b"k", f"v{offset}".encode())
                for offset in range(start, size)
            ]
            self.positions[tp] = size
        return fetched


def _offsets(records: Iterable[Any]) -> list[tuple[int, int]]:
    return [(r.partition, r.offset) for r in records]


def test_records_past_the_end_are_left_for_the_next_read() -> None:
    consumer = _GreedyConsumer({KafkaTopicPartition("t", 0): 5, KafkaTopicPartition("t", 1): 2})
    reader = KafkaTopicReader(consumer)
    first = _offsets(reader.read_to({TopicPartition("t", 0): 3, TopicPartition("t", 1): 2}, 5))
    assert first == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert consumer.position(KafkaTopicPartition("t", 0)) == 3  # sought back to the first unread
    assert not consumer.paused  # every partition resumed after the read
    second = _offsets(reader.read_to({TopicPartition("t", 0): 5, TopicPartition("t", 1): 2}, 5))
    assert second == [(0, 3), (0, 4)]


def test_a_partition_already_at_its_end_is_not_fetched() -> None:
    consumer = _GreedyConsumer({KafkaTopicPartition("t", 0): 2, KafkaTopicPartition("t", 1): 4})
    consumer.seek(KafkaTopicPartition("t", 1), 4)
    reader = KafkaTopicReader(consumer)
    read = _offsets(reader.read_to({TopicPartition("t", 0): 2, TopicPartition("t", 1): 4}, 5))
    assert read == [(0, 0), (0, 1)]


class _MarkerConsumer(_GreedyConsumer):
    """A consumer whose log ends in a transaction marker (a control record): the fetch that
    reads it moves the position past it and returns no record, as kafka-python's does."""

    def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[KafkaTopicPartition, list[StoredRecord]]:
        fetched: dict[KafkaTopicPartition, list[StoredRecord]] = {}
        for tp, size in self.logs.items():
            start = self.positions[tp]
            if tp in self.paused or start >= size:
                continue
            data = min(size - 1, start + (max_records or size))  # the last offset: the marker
            if start < data:
                fetched[tp] = [
                    StoredRecord(tp.topic, tp.partition, offset, 0, b"k", b"v")
                    for offset in range(start, data)
                ]
            self.positions[tp] = data if start < data else size
        return fetched


def test_a_read_ends_at_a_transaction_marker_that_comes_without_records() -> None:
    """Found in review: the partition was only checked when a poll returned records for it, so
    a read whose last offset is a marker waited for records that never come, then failed."""
    tp = KafkaTopicPartition("t", 0)
    reader = KafkaTopicReader(_MarkerConsumer({tp: 6}))
    read = reader.read_to({TopicPartition("t", 0): 6}, None, stall_timeout_s=2, max_records=5)
    assert _offsets(read) == [(0, n) for n in range(5)]


@pytest.mark.kafka
def test_a_range_of_a_transactional_write_is_read_to_its_end(kafka_base: KafkaSettings) -> None:
    """The same against the broker: five records committed in one transaction take offsets
    0-4 and the commit marker offset 5; reading [0, 6) five records per poll must end."""
    topic = unique("txn")
    with topic_admin.admin_client(kafka_base) as admin:
        topic_admin.create_topic(admin, topic, 1, 1)
        topic_admin.await_metadata(admin, {topic})
    producer = clients.producer(kafka_base, transactional_id=unique("txn-writer"))
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for n in range(5):
            producer.send(topic, key=b"k", value=f"v{n}".encode())
        producer.commit_transaction()
    finally:
        producer.close()
    reader = open_reader(kafka_base)
    try:
        partition = TopicPartition(topic, 0)
        end = reader.end_offsets([partition], 10)[partition]
        assert end == 6  # five records and the marker
        values = [
            r.value
            for r in read_range(reader, partition, 0, end, stall_timeout_s=10, max_records=5)
        ]
    finally:
        reader.close()
        with topic_admin.admin_client(kafka_base) as admin:
            topic_admin.delete_topics(admin, [topic])
    assert values == [f"v{n}".encode() for n in range(5)]
