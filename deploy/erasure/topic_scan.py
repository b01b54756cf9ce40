"""Read whole topics and keep the records keyed by one candidate (kafka-python, no group)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deploy.erasure.classify import ScannedRecord
from schemas.kafka_seam.proto import TopicPartition
from schemas.kafka_seam.reader import open_reader, read_to_end
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
    reader = open_reader(kafka)
    try:
        missing: list[str] = []
        partitions: list[TopicPartition] = []
        for topic in topics:
            found_partitions = reader.partitions_for(topic)
            if not found_partitions:
                missing.append(topic)
            partitions.extend(found_partitions)
        found: dict[str, list[ScannedRecord]] = {t: [] for t in topics if t not in missing}
        if not partitions:
            return found, missing
        for record in read_to_end(reader, partitions, timeout_s=timeout_s):
            if record.key is not None and keep(record.topic, record.key):
                found[record.topic].append(
                    ScannedRecord(record.partition, record.offset, record.key, record.value)
                )
        return found, missing
    finally:
        reader.close()
