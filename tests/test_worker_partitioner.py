"""The partitioner trap, detected: a producer that hashes keys otherwise than murmur2.

librdkafka-based clients (here confluent-kafka, left at its default partitioner
``consistent_random``: CRC32 of the key) put most candidates' records on another partition than
the Java client and kafka-python would. The worker must not process a record there (the
candidate's state would be split between partitions, and workers): it dead-letters it with
``WrongPartitionError``, counts it in ``nurture_worker_records_on_wrong_partition_total``, and
processes the records that happen to be where murmur2 puts them. Once the producer is fixed,
``nurture dlq redrive`` re-publishes the letters with murmur2, and every candidate's engagement
then equals the reference computed from all its events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from kafka.consumer.fetcher import ConsumerRecord

from schemas.codec import activity_codec
from schemas.kafka_seam import topic_admin
from schemas.kafka_seam.topic_admin import group_members
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ACTIVITY_DLQ
from streams.bench.loadgen import LoadSpec, activity_events
from streams.scoring.config import load_model
from streams.worker.dlq import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE, HEADER_PARTITION
from streams.worker.outbox import key_partition
from tests.kafka_helpers import read_all, unique, wait_until
from tests.replay_support import nurture
from tests.worker_support import (
    WorkerHarness,
    answering,
    differences,
    metric_value,
    published,
    reference,
)

pytestmark = pytest.mark.kafka

CANDIDATES = 36
EVENTS_EACH = 3
WRONG_PARTITION = "WrongPartitionError"


@pytest.fixture
def kafka(kafka_base: KafkaSettings) -> Iterator[KafkaSettings]:
    kafka = kafka_base.model_copy(update={"topic_prefix": unique("partitioner") + "."})
    report = topic_admin.create_all(kafka)
    assert report.ok, report.conflicts
    yield kafka
    topic_admin.delete_prefixed(kafka)


def _events(run: str) -> list[dict[str, Any]]:
    """``EVENTS_EACH`` events of each of ``CANDIDATES`` fresh candidates."""
    template = list(activity_events(LoadSpec(events=CANDIDATES * EVENTS_EACH, run=run)))
    return [
        {
            **event,
            "event_id": f"evt-{uuid.uuid4().hex}",
            "candidate_id": f"cand-{run}-{n % CANDIDATES}",
        }
        for n, event in enumerate(template)
    ]


def _produce_with_librdkafka(kafka: KafkaSettings, events: list[dict[str, Any]]) -> list[Any]:
    """Send ``events`` keyed by candidate id with confluent-kafka's default partitioner; the
    delivered messages (topic, partition, offset, key)."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    delivered: list[Any] = []

    def report(error: Any, message: Any) -> None:
        assert error is None, error
        delivered.append(message)

    encode = activity_codec().encode
    for event in events:
        producer.produce(
            kafka.topic(ACTIVITY),
            key=event["candidate_id"].encode(),
            value=encode(event),
            on_delivery=report,
        )
    assert producer.flush(30) == 0
    assert len(delivered) == len(events)
    return delivered


def test_records_on_the_wrong_partition_are_dead_lettered_counted_and_redriven(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    partitions = kafka.topic_partitions
    # Fixed candidate ids (the topics are the test's own): which of them librdkafka misplaces
    # is then the same on every run, not a draw that could leave too few misplaced.
    delivered = _produce_with_librdkafka(kafka, _events("trap"))
    misplaced = [m for m in delivered if key_partition(m.key(), partitions) != m.partition()]
    placed = [m for m in delivered if key_partition(m.key(), partitions) == m.partition()]
    # The trap is real: the default librdkafka partitioner disagrees with murmur2 for most keys
    # (about (n-1)/n of them on n partitions), and some land right by chance.
    assert misplaced and placed, (len(misplaced), len(placed))

    harness = WorkerHarness(kafka, tmp_path, unique("partitioner"), store="memory://")
    try:
        worker = answering(harness.worker().start(), harness)
        harness.wait_caught_up(worker)
        dlq = kafka.topic(ACTIVITY_DLQ)

        def all_letters() -> list[ConsumerRecord] | None:
            found = read_all(kafka, dlq)
            return found if len(found) >= len(misplaced) else None

        letters = wait_until(all_letters, timeout_s=60, what=f"{len(misplaced)} dead letters")
        # Exactly the misplaced records, each with the reason and the partition it was on.
        assert len(letters) == len(misplaced)
        assert sorted((m.key(), m.value()) for m in misplaced) == sorted(
            (letter.key, letter.value) for letter in letters
        )
        for letter in letters:
            headers = dict(letter.headers)
            assert headers[HEADER_ERROR_CLASS] == WRONG_PARTITION.encode()
            assert b"murmur2_random" in headers[HEADER_ERROR_MESSAGE]
            assert int(headers[HEADER_PARTITION]) != key_partition(letter.key, partitions)
        counted = sum(
            metric_value(
                worker.port,
                "nurture_worker_records_on_wrong_partition_total",
                {"topic": kafka.topic(ACTIVITY), "partition": str(p)},
            )
            for p in range(partitions)
        )
        assert counted == len(misplaced)
        reason = {"topic": dlq, "reason": WRONG_PARTITION}
        assert metric_value(worker.port, "nurture_worker_dead_letters_total", reason) == len(
            misplaced
        )

        # Only the records on their murmur2 partition were scored, each in its candidate's row.
        model = load_model()
        before = published(kafka)
        assert set(before) == {m.key().decode() for m in placed}
        assert not differences(reference(model, kafka), before)

        # The producer fixed, redrive re-publishes with murmur2: every event is counted once.
        result = nurture(kafka, "dlq", "redrive", "--error", WRONG_PARTITION)
        assert result.exit_code == 0, result.output
        assert f"{len(misplaced)} redriven" in result.output
        harness.wait_caught_up(worker)
        expected = reference(model, kafka)
        assert len(expected) == CANDIDATES
        assert not differences(expected, published(kafka))
        assert worker.exit_code() is None, harness.logs()

        # A rebuild replays the same: the misplaced originals are left out, and it says so.
        assert worker.stop() == 0, harness.logs()
        wait_until(lambda: not group_members(kafka, harness.group), what="an empty group")
        rebuilt = nurture(
            kafka,
            *("replay", "rebuild", "--from-beginning", "--yes", "--processes", "1"),
            *("--app-id", harness.app_id, "--data-dir", str(harness.data_dir())),
        )
        assert rebuilt.exit_code == 0, rebuilt.output
        said = " ".join(rebuilt.output.split())
        assert f"warning: {len(misplaced)} records on a partition their key" in said, said
        assert "nurture dlq redrive --error WrongPartitionError" in said
        assert not differences(expected, published(kafka))
    finally:
        harness.close()
