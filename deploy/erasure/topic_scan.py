"""Read whole topics and keep the records keyed by one candidate (kafka-python, no group)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from deploy.erasure.classify import ScannedRecord
from schemas.errors import KafkaUnavailableError
from schemas.settings import KafkaSettings

#: ``(full topic name, record key) -> keep?``
KeyFilter = Callable[[str, bytes | None], bool]


def scan_topics(
    kafka: KafkaSettings, topics: Sequence[str], keep: KeyFilter, *, timeout_s: float
) -> tuple[dict[str, list[ScannedRecord]], list[str]]:
    """``({topic: kept records}, topics that do not exist)``, read from the start to the end
    offsets taken at the call. :class:`KafkaUnavailableError` when Kafka does not answer or a
    topic cannot be read to its end in ``timeout_s``.
    """
    try:
        consumer = KafkaConsumer(
            **kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
        )
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot reach Kafka: {type(exc).__name__}") from exc
    try:
        missing: list[str] = []
        partitions: list[TopicPartition] = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                missing.append(topic)
                continue
            partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
        found: dict[str, list[ScannedRecord]] = {t: [] for t in topics if t not in missing}
        if not partitions:
            return found, missing
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise KafkaUnavailableError(
                    f"could not read the topics to their end in {timeout_s}s"
                )
            for tp, records in consumer.poll(timeout_ms=200).items():
                for record in records:
                    if record.offset < end[tp] and keep(tp.topic, record.key):
                        found[tp.topic].append(
                            ScannedRecord(record.partition, record.offset, record.key, record.value)
                        )
        return found, missing
    finally:
        consumer.close()
