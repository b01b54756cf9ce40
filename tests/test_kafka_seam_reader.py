"""The broker reader's own logic (schemas/kafka_seam/reader.py) on a scripted consumer: a poll
that fetches past the end offsets of a read hands out only what is below them and leaves the
rest for the next read (the broker suite cannot make a fetch straddle the end on purpose)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kafka import TopicPartition as KafkaTopicPartition

from schemas.kafka_seam.memory import StoredRecord
from schemas.kafka_seam.proto import TopicPartition
from schemas.kafka_seam.reader import KafkaTopicReader


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
