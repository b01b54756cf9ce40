"""What components use of Kafka, as small Protocols (implementations: the kafka-python ones in
this package, and the in-memory twin in :mod:`schemas.kafka_seam.memory` for pure tests).

``tests/test_kafka_seam_conformance.py`` runs one behaviour suite against both, so a test that
passes on the twin says something about the broker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple, Protocol

from schemas.errors import KafkaUnavailableError


class TopicPartition(NamedTuple):
    """A partition of a topic (equal to, and hashed as, kafka-python's ``TopicPartition``)."""

    topic: str
    partition: int


class Record(Protocol):
    """The fields of a consumed record that components read (kafka-python's ``ConsumerRecord``
    has them, and so does :class:`~schemas.kafka_seam.memory.StoredRecord`)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]] | None: ...


class ReadStalledError(KafkaUnavailableError):
    """Raised by :meth:`TopicReader.read_to` with a ``stall_timeout_s`` when no record came for
    that long while ``partition`` was still short of its end (a broker that stopped answering,
    or an end offset past the records that exist). Retriable: the read can be run again."""

    def __init__(
        self, partition: TopicPartition, offset: int, end: int, stall_timeout_s: float
    ) -> None:
        self.partition = partition
        self.offset = offset
        self.end = end
        self.stall_timeout_s = stall_timeout_s
        super().__init__(
            f"{partition.topic}[{partition.partition}]: no records for {stall_timeout_s:.0f}s "
            f"at offset {offset} (range ends at {end})"
        )


class TopicReader(Protocol):
    """Reads assigned partitions up to given end offsets, without a consumer group (nothing is
    committed). :func:`schemas.kafka_seam.reader.read_to_end` is the usual way in."""

    def partitions_for(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions in order; empty when the topic does not exist."""
        ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        """Read exactly ``partitions`` from now on, each from its beginning."""
        ...

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Read ``partition`` on from ``offset``."""
        ...

    def end_offsets(
        self, partitions: Sequence[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, int]:
        """The offset after the last record of each partition, as of now."""
        ...

    def beginning_offsets(
        self, partitions: Sequence[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, int]:
        """The offset of the first record each partition still holds (retention moves it on;
        compaction does not)."""
        ...

    def offsets_for_times(
        self, partitions: Sequence[TopicPartition], at_ms: int, timeout_s: float
    ) -> dict[TopicPartition, int | None]:
        """Per partition, the earliest offset whose record timestamp is ``at_ms`` or later
        (milliseconds since the epoch); None when no record is that late."""
        ...

    def read_to(
        self,
        end: Mapping[TopicPartition, int],
        timeout_s: float | None,
        *,
        stall_timeout_s: float | None = None,
        max_records: int | None = None,
    ) -> Iterator[Record]:
        """Every record from the current positions to ``end`` (exclusive), in offset order per
        partition (a compacted topic skips the offsets it removed); after it, each position is
        ``end`` (or the first offset after it still held). Records written later are left for
        the next read.

        ``timeout_s``: :class:`~schemas.errors.KafkaUnavailableError` when the whole read takes
        longer (None: no overall limit). ``stall_timeout_s``: :class:`ReadStalledError` when no
        record comes for that long while a partition is short of its end (None: no limit).
        ``max_records``: at most this many records fetched per poll (None: the client's
        ``max_poll_records``)."""
        ...

    def close(self) -> None: ...


class RecordSink(Protocol):
    """Writes records, keyed ones on the partition their key hashes to
    (:func:`~schemas.kafka_seam.partitioner.key_partition`)."""

    def send(
        self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None
    ) -> None:
        """Queue one record."""
        ...

    def flush(self, timeout_s: float) -> None:
        """Return once every queued record is acknowledged (acks=all); raise when one was not."""
        ...

    def close(self) -> None: ...


class TopicAdmin(Protocol):
    """Creates, describes and deletes topics."""

    def create_topic(self, name: str, partitions: int, configs: Mapping[str, str]) -> bool:
        """Create ``name``; False when it already existed (left as it is)."""
        ...

    def partition_count(self, name: str) -> int | None:
        """Partitions of ``name``; None when it does not exist."""
        ...

    def delete_topics(self, names: Sequence[str]) -> None:
        """Delete the topics of ``names`` that exist."""
        ...

    def list_topics(self) -> list[str]: ...
