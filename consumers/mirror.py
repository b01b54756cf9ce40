"""Read a whole topic into process memory and keep up with it, without a consumer group.

Every partition is assigned and read from the beginning; :meth:`TopicMirror.catch_up` reads up
to the end offsets taken *at the call* (the seam's
:class:`~schemas.kafka_seam.reader.KafkaTopicReader`), so whatever was acknowledged before the
call is seen.
Subclasses say what to keep of each record (:meth:`TopicMirror.apply`).
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from schemas.errors import ConfigError, KafkaUnavailableError
from schemas.kafka_seam import clients
from schemas.kafka_seam.reader import KafkaTopicReader
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Longest wait of one end-offsets request, and the pause before the next (seconds).
END_OFFSETS_TRY_S = 5.0
RETRY_BACKOFF_S = 0.5


class TopicMirror:
    """Base of the in-memory views the delivery consumer keeps of a topic."""

    def __init__(self, kafka: KafkaSettings, topic: str, *, catch_up_timeout_s: float = 30.0):
        self.topic = kafka.topic(topic)
        self._kafka = kafka
        self._timeout_s = catch_up_timeout_s
        #: Per partition, the offset after the last record applied (absent: none yet).
        self._next: dict[TopicPartition, int] = {}
        self._consumer = self._connect()
        partition_ids = self._consumer.partitions_for_topic(self.topic) or set()
        if not partition_ids:
            self._consumer.close()
            raise ConfigError(f"topic {self.topic} does not exist (nurture topics create)")
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(partition_ids)]
        self._consumer.assign(self._partitions)
        self._consumer.seek_to_beginning(*self._partitions)

    def _connect(self) -> KafkaConsumer:
        with clients.explained(self._kafka):  # a refused login or TLS handshake is named
            consumer: KafkaConsumer = clients.consumer(
                self._kafka, enable_auto_commit=False, group_id=None
            )
        return consumer

    def _reconnect(self) -> None:
        """A new client, reading on where the view stands. After a broker died and came back,
        kafka-python 3.0's offset requests kept failing for a minute and more (a chaos run's
        e-mail consumer stood still that long); a new client finds the current leaders."""
        old, self._consumer = self._consumer, self._connect()
        old.close()
        self._consumer.assign(self._partitions)
        for tp in self._partitions:
            if tp in self._next:
                self._consumer.seek(tp, self._next[tp])
            else:
                self._consumer.seek_to_beginning(tp)

    def apply(self, record: ConsumerRecord) -> None:
        """Take one record into the view."""
        raise NotImplementedError

    def catch_up(self) -> None:
        """Apply every record written before this call (KafkaUnavailableError after timeout)."""
        deadline = time.monotonic() + self._timeout_s
        end = self._end_offsets(deadline)
        reader = KafkaTopicReader(self._consumer)
        for record in reader.read_to(end, max(0.0, deadline - time.monotonic())):
            self.apply(record)
            self._next[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def _end_offsets(self, deadline: float) -> dict[TopicPartition, int]:
        """The partitions' end offsets, asked again by a new client after a retriable error
        (a broker that died keeps kafka-python's request waiting until its timeout) until
        ``deadline``; then KafkaUnavailableError."""
        while True:
            remaining_s = deadline - time.monotonic()
            try:
                ends: dict[TopicPartition, int] = self._consumer.end_offsets(
                    self._partitions,
                    timeout_ms=int(1000 * max(0.1, min(remaining_s, END_OFFSETS_TRY_S))),
                )
                return ends
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                if time.monotonic() >= deadline:
                    raise KafkaUnavailableError(
                        f"could not read the end offsets of {self.topic}: {exc}"
                    ) from exc
                log.warning(
                    "%s: end offsets failed (%s); asking through a new client", self.topic, exc
                )
                time.sleep(RETRY_BACKOFF_S)
                self._reconnect()

    def close(self) -> None:
        self._consumer.close()
