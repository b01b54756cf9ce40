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

from kafka.errors import KafkaError

from producers.key_topic import read_from_beginning
from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam import clients
from schemas.kafka_seam.proto import Record
from schemas.kafka_seam.reader import open_reader
from schemas.privacy.data_keys import owns
from schemas.settings import KafkaSettings
from schemas.topics import KEYS


def live_key_names(kafka: KafkaSettings, candidate_id: str, *, timeout_s: float) -> list[bytes]:
    """Record keys of the candidate's data keys whose latest record is not a tombstone."""
    topic = kafka.topic(KEYS)
    reader = open_reader(kafka)
    try:
        live: dict[bytes, bool] = {}

        def remember(record: Record) -> None:
            if record.key is not None and owns(candidate_id, record.key):
                live[record.key] = record.value is not None

        read_from_beginning(reader, topic, timeout_s, remember)
        return sorted(name for name, alive in live.items() if alive)
    finally:
        reader.close()


def shred_keys(kafka: KafkaSettings, candidate_id: str, *, timeout_s: float) -> int:
    """Tombstone every live data key of ``candidate_id``; how many. Waits for ``acks=all``."""
    names = live_key_names(kafka, candidate_id, timeout_s=timeout_s)
    if not names:
        return 0
    topic = kafka.topic(KEYS)
    try:
        producer = clients.producer(kafka, acks="all", client_id="nurture-erasure")
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
