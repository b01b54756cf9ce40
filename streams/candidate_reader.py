"""Read one candidate's records from Kafka for ``nurture campaigns simulate --candidate ID``.

Producers key every record by candidate id with the default murmur2 partitioner, so the
candidate's profiles, erasure requests and activity events are all on one partition of
``candidate.profile`` and of ``candidate.activity``: only that partition is read
(:func:`~streams.worker.outbox.key_partition`), from its start to the end offset taken when
reading starts, with a group-less kafka-python consumer that commits nothing and writes nothing.
:func:`~streams.campaigns.history.history_records` (pure) turns the records into the
simulation's input; this module is the small Kafka adapter around it, kept out of
``streams/campaigns`` so that the engine's package stays free of Kafka.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from schemas.errors import KafkaUnavailableError
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.campaigns.history import CandidateHistory, RawRecord, history_records
from streams.worker.outbox import key_partition


def read_candidate(
    kafka: KafkaSettings, candidate_id: str, *, timeout_s: float = 30.0
) -> CandidateHistory:
    """The candidate's records on ``candidate.profile`` and ``candidate.activity``.

    Reads only the partition the candidate id hashes to, from the start to the end offsets
    taken at the call. Raises :class:`KafkaUnavailableError` when Kafka does not answer, a topic
    does not exist, or the partitions cannot be read to their end within ``timeout_s``.
    """
    try:
        consumer = KafkaConsumer(
            **kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
        )
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot reach Kafka: {type(exc).__name__}") from exc
    try:
        raw, partitions = _read_partitions(consumer, kafka, candidate_id.encode(), timeout_s)
    except KafkaError as exc:
        raise KafkaUnavailableError(f"reading from Kafka failed: {type(exc).__name__}") from exc
    finally:
        consumer.close()
    history = history_records(candidate_id, raw)
    history.partitions = partitions
    return history


def _read_partitions(
    consumer: KafkaConsumer, kafka: KafkaSettings, key: bytes, timeout_s: float
) -> tuple[list[RawRecord], dict[str, int]]:
    """The records of ``key``'s partition of each topic, profiles first."""
    chosen: dict[TopicPartition, str] = {}
    for name in (PROFILE, ACTIVITY):
        topic = kafka.topic(name)
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            raise KafkaUnavailableError(f"topic {topic} does not exist (nurture topics create)")
        chosen[TopicPartition(topic, key_partition(key, len(ids)))] = name
    consumer.assign(list(chosen))
    consumer.seek_to_beginning(*chosen)
    end = consumer.end_offsets(list(chosen))
    found: dict[str, list[RawRecord]] = {name: [] for name in chosen.values()}
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < end[tp] for tp in chosen):
        if time.monotonic() > deadline:
            raise KafkaUnavailableError(
                f"could not read the candidate's partitions to their end in {timeout_s}s"
            )
        for tp, messages in consumer.poll(timeout_ms=200).items():
            name = chosen[tp]
            for message in messages:
                if message.offset < end[tp] and message.key == key:
                    found[name].append(RawRecord(name, message.key, message.value))
    partitions = {name: tp.partition for tp, name in chosen.items()}
    return found[PROFILE] + found[ACTIVITY], partitions
