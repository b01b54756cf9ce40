"""Reading the whole compacted key topic (``candidate.keys``) from its beginning to its end.

Shared by erasure (which data keys of a candidate are still live) and key rotation (every live
key, to rewrap).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from schemas.errors import ConfigError, KafkaUnavailableError


def read_from_beginning(
    consumer: KafkaConsumer, topic: str, timeout_s: float, apply: Callable[[ConsumerRecord], None]
) -> list[TopicPartition]:
    """Call ``apply`` on every record of ``topic``, from the beginning to the end offsets taken
    now; returns the partitions (assigned: :func:`read_to_end` continues from there). Raises
    :class:`ConfigError` when the topic does not exist."""
    partitions = [
        TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    if not partitions:
        raise ConfigError(f"topic {topic} does not exist (nurture topics create)")
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    read_to_end(consumer, partitions, timeout_s, apply)
    return partitions


def read_to_end(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    timeout_s: float,
    apply: Callable[[ConsumerRecord], None],
) -> None:
    """Call ``apply`` on the records from the current positions to the end offsets taken now;
    :class:`KafkaUnavailableError` when that takes longer than ``timeout_s``."""
    end = consumer.end_offsets(partitions)
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        if time.monotonic() > deadline:
            topic = partitions[0].topic
            raise KafkaUnavailableError(f"could not read {topic} to its end in {timeout_s}s")
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                apply(record)
