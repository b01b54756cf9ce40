"""Erasure's crypto-shredding: find a candidate's data keys on ``candidate.keys``, tombstone them.

The SDK, the HTTP gateway and ``nurture erase`` share this. The key topic is read whole (every
partition, from the start to the end offsets taken at the call) because key records are keyed
``<candidate_id>/<key_id>`` and so spread over partitions; erasures are rare and the records
small. A tombstone (null value) per live key, written with ``acks=all``; compaction then removes
the key, and every contact sealed with it becomes unreadable wherever it is kept.

A key created by a profile upsert racing the erasure (after the scan) survives it: the worker's
suppression drops that profile, and ``nurture erasure verify`` reports the key; erase again.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from schemas.errors import ConfigError, KafkaUnavailableError
from schemas.privacy.data_keys import owns
from schemas.settings import KafkaSettings
from schemas.topics import KEYS


def live_key_names(kafka: KafkaSettings, candidate_id: str, *, timeout_s: float) -> list[bytes]:
    """Record keys of the candidate's data keys whose latest record is not a tombstone."""
    topic = kafka.topic(KEYS)
    try:
        consumer = KafkaConsumer(
            **kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
        )
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot read {topic}: {type(exc).__name__}") from exc
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            raise ConfigError(f"topic {topic} does not exist (nurture topics create)")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        live: dict[bytes, bool] = {}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise KafkaUnavailableError(f"could not read {topic} to its end in {timeout_s}s")
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    if owns(candidate_id, record.key):
                        live[record.key] = record.value is not None
        return sorted(name for name, alive in live.items() if alive)
    finally:
        consumer.close()


def shred_keys(kafka: KafkaSettings, candidate_id: str, *, timeout_s: float) -> int:
    """Tombstone every live data key of ``candidate_id``; how many. Waits for ``acks=all``."""
    names = live_key_names(kafka, candidate_id, timeout_s=timeout_s)
    if not names:
        return 0
    topic = kafka.topic(KEYS)
    try:
        producer = KafkaProducer(
            **kafka.kafka_python_config(), acks="all", client_id="nurture-erasure"
        )
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot write {topic}: {type(exc).__name__}") from exc
    try:
        futures = [producer.send(topic, key=name, value=None) for name in names]
        for future in futures:
            future.get(timeout=timeout_s)
    except KafkaError as exc:
        raise KafkaUnavailableError(
            f"{topic}: a key tombstone was not acknowledged ({type(exc).__name__}); erase again"
        ) from exc
    finally:
        producer.close(timeout=5)
    return len(names)
