"""The real broker's side of the :mod:`~schemas.kafka_seam.proto` roles that are not a module of
their own (the reader is :class:`~schemas.kafka_seam.reader.KafkaTopicReader`): a record sink on
a kafka-python producer and a topic admin on the admin API (:mod:`.topic_admin`).

Their in-memory twins are in :mod:`schemas.kafka_seam.memory`; one conformance suite runs on
both (``tests/test_kafka_seam_conformance.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.kafka_seam import clients, topic_admin
from schemas.kafka_seam.partitioner import KafkaPythonPartitioner
from schemas.settings import KafkaSettings


class KafkaRecordSink:
    """:class:`~schemas.kafka_seam.proto.RecordSink` on a kafka-python producer (acks=all,
    idempotent, keys on :func:`~schemas.kafka_seam.partitioner.key_partition`)."""

    def __init__(self, kafka: KafkaSettings, **options: Any) -> None:
        self.producer = clients.producer(
            kafka,
            acks="all",
            enable_idempotence=True,
            partitioner=KafkaPythonPartitioner(),
            **options,
        )

        #: Sends not yet known to be acknowledged: flush() checks each (kafka-python's own
        #: flush returns once they are done, failed or not).
        self._pending: list[Any] = []

    def send(
        self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None
    ) -> None:
        self._pending.append(self.producer.send(topic, key=key, value=value, partition=partition))

    def flush(self, timeout_s: float) -> None:
        """Return once every record sent is acknowledged; raise the first send's failure."""
        self.producer.flush(timeout=timeout_s)
        pending, self._pending = self._pending, []
        for future in pending:
            future.get(timeout=0)  # raises the send's error (or a timeout if not done)

    def close(self) -> None:
        self.producer.close(timeout=5)


class KafkaTopicAdmin:
    """:class:`~schemas.kafka_seam.proto.TopicAdmin` on the cluster of ``kafka`` (a new admin
    connection per call, as :mod:`.topic_admin` does)."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 30.0) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s

    def create_topic(self, name: str, partitions: int, configs: Mapping[str, str]) -> bool:
        with topic_admin.admin_client(self.kafka) as admin:
            replication = self.kafka.replication_for(topic_admin.broker_count(admin))
            new = NewTopic(name, partitions, replication, topic_configs=dict(configs))
            try:
                admin.create_topics([new], validate_only=False)
            except TopicAlreadyExistsError:
                return False
            topic_admin.await_metadata(admin, {name}, self.timeout_s)
            return True

    def partition_count(self, name: str) -> int | None:
        found = topic_admin.describe(self.kafka, [name]).get(name)
        return None if found is None else found.partitions

    def delete_topics(self, names: Sequence[str]) -> None:
        with topic_admin.admin_client(self.kafka) as admin:
            doomed = sorted(set(names) & set(admin.list_topics()))
            if not doomed:
                return
            admin.delete_topics(doomed)
            deadline = time.monotonic() + self.timeout_s
            while set(doomed) & set(admin.list_topics()) and time.monotonic() < deadline:
                time.sleep(0.1)

    def list_topics(self) -> list[str]:
        return topic_admin.list_topics(self.kafka)
