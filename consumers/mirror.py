"""Read a whole topic into process memory and keep up with it, without a consumer group.

Every partition is assigned and read from the beginning; :meth:`TopicMirror.catch_up` reads up
to the end offsets taken *at the call* (the seam's
:class:`~schemas.kafka_seam.reader.KafkaTopicReader`), so whatever was acknowledged before the
call is seen.
Subclasses say what to keep of each record (:meth:`TopicMirror.apply`).

A record whose schema id is not cached while the schema registry does not answer
(:class:`~schemas.errors.SchemaRegistryUnavailableError`, raised by ``apply``) is not skipped:
the view stops before it, stays positioned there and raises :class:`ViewStalledError`; the next
:meth:`~TopicMirror.catch_up` reads it again. Views decide consent and unsubscribes at send
time, so a record they cannot read *yet* must hold the sends, not be lost (docs/delivery.md,
"Views and the schema registry"). Records that can never decode are the subclasses' to skip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator

from kafka.errors import KafkaError

from schemas.errors import ConfigError, KafkaUnavailableError, NurtureError
from schemas.errors import SchemaRegistryUnavailableError as RegistryUnavailable
from schemas.kafka_seam.proto import Record, TopicPartition, TopicReader
from schemas.kafka_seam.reader import open_reader
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Longest wait of one end-offsets request, and the pause before the next (seconds).
END_OFFSETS_TRY_S = 5.0
RETRY_BACKOFF_S = 0.5


class ViewStalledError(NurtureError):
    """Raised by :meth:`TopicMirror.catch_up` when the record at ``topic[partition]`` ``offset``
    cannot be read now because the schema registry did not answer for its schema id (``cause``).
    The view holds everything before it and reads on from it at the next call.

    ``retriable`` is the cause's: False when the registry refused the credentials
    (:class:`~schemas.errors.SchemaRegistryAuthError`). ``retry_after_s``: when the resolver
    asks the registry again (None: not known)."""

    retriable = True

    def __init__(self, topic: str, partition: int, offset: int, cause: RegistryUnavailable):
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.cause = cause
        self.retriable = cause.retriable
        self.retry_after_s = cause.retry_after_s
        super().__init__(f"{topic}[{partition}] offset={offset}: view waits there: {cause}")


class TopicMirror:
    """Base of the in-memory views the delivery consumer keeps of a topic."""

    def __init__(self, kafka: KafkaSettings, topic: str, *, catch_up_timeout_s: float = 30.0):
        self.topic = kafka.topic(topic)
        self._kafka = kafka
        self._timeout_s = catch_up_timeout_s
        #: Per partition, the offset after the last record applied (absent: none yet).
        self._next: dict[TopicPartition, int] = {}
        self._reader = self._connect()
        self._partitions = self._reader.partitions_for(self.topic)
        if not self._partitions:
            self._reader.close()
            raise ConfigError(f"topic {self.topic} does not exist (nurture topics create)")
        self._reader.assign(self._partitions)

    def _connect(self) -> TopicReader:
        """A group-less reader (a refused login or TLS handshake is named); tests hand in the
        in-memory twin's here."""
        return open_reader(self._kafka)

    def _reconnect(self) -> None:
        """A new client, reading on where the view stands. After a broker died and came back,
        kafka-python 3.0's offset requests kept failing for a minute and more (a chaos run's
        e-mail consumer stood still that long); a new client finds the current leaders."""
        old, self._reader = self._reader, self._connect()
        old.close()
        self._seek_to_applied()

    def _seek_to_applied(self) -> None:
        """Read each partition on from the record after the last one applied (from the
        beginning where none was)."""
        self._reader.assign(self._partitions)
        for tp, offset in self._next.items():
            self._reader.seek(tp, offset)

    def apply(self, record: Record) -> None:
        """Take one record into the view (SchemaRegistryUnavailableError: not now)."""
        raise NotImplementedError

    def catch_up(self) -> None:
        """Apply every record written before this call (KafkaUnavailableError after timeout;
        :class:`ViewStalledError` at a record that must wait for the schema registry)."""
        deadline = time.monotonic() + self._timeout_s
        end = self._end_offsets(deadline)
        records = self._reader.read_to(end, max(0.0, deadline - time.monotonic()))
        for record in records:
            try:
                self.apply(record)
            except RegistryUnavailable as exc:
                if isinstance(records, Generator):
                    records.close()  # ends the read now: it resumes what it paused
                self._seek_to_applied()  # the read went past this record
                raise ViewStalledError(record.topic, record.partition, record.offset, exc) from exc
            self._next[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def _end_offsets(self, deadline: float) -> dict[TopicPartition, int]:
        """The partitions' end offsets, asked again by a new client after a retriable error
        (a broker that died keeps kafka-python's request waiting until its timeout) until
        ``deadline``; then KafkaUnavailableError."""
        while True:
            remaining_s = deadline - time.monotonic()
            try:
                return self._reader.end_offsets(
                    self._partitions, max(0.1, min(remaining_s, END_OFFSETS_TRY_S))
                )
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
        self._reader.close()
