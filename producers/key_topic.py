"""Reading the whole compacted key topic (``candidate.keys``) from its beginning to its end.

Shared by erasure (which data keys of a candidate are still live) and key rotation (every live
key, to rewrap). The reading itself is the seam's (:mod:`schemas.kafka_seam.reader`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from schemas.errors import ConfigError
from schemas.kafka_seam.proto import Record, TopicPartition, TopicReader
from schemas.kafka_seam.reader import read_to_end


def read_from_beginning(
    reader: TopicReader, topic: str, timeout_s: float, apply: Callable[[Record], None]
) -> list[TopicPartition]:
    """Call ``apply`` on every record of ``topic``, from the beginning to the end offsets taken
    now; returns the partitions (assigned: :func:`read_on` continues from there). Raises
    :class:`ConfigError` when the topic does not exist."""
    partitions = reader.partitions_for(topic)
    if not partitions:
        raise ConfigError(f"topic {topic} does not exist (nurture topics create)")
    for record in read_to_end(reader, partitions, timeout_s=timeout_s):
        apply(record)
    return partitions


def read_on(
    reader: TopicReader,
    partitions: Sequence[TopicPartition],
    timeout_s: float,
    apply: Callable[[Record], None],
) -> None:
    """Call ``apply`` on the records from the current positions to the end offsets taken now;
    :class:`~schemas.errors.KafkaUnavailableError` when that takes longer than ``timeout_s``."""
    for record in reader.read_to(reader.end_offsets(partitions, timeout_s), timeout_s):
        apply(record)
