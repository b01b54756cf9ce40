"""One candidate's records from Kafka, as the offline simulation takes them.

``nurture campaigns simulate --candidate ID`` (without ``--events``) dry-runs the campaigns over
what the topics hold for one live candidate. Producers key every record by candidate id with the
default murmur2 partitioner, so the candidate's profiles, erasure requests and activity events
are all on one partition of ``candidate.profile`` and of ``candidate.activity``: only that
partition is read (:func:`~streams.worker.outbox.key_partition`), from its start to the end
offset taken when reading starts, with a group-less kafka-python consumer that commits nothing
and writes nothing.

:func:`history_records` (pure) turns the raw records into the ``(subject, record)`` pairs of
:func:`streams.campaigns.simulation.simulate`; :func:`read_candidate` is the small Kafka adapter
around it. This is the only module of ``streams/campaigns`` that touches Kafka; the engine never
does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from schemas.codec import Codec, default_codec
from schemas.errors import KafkaUnavailableError, SchemaError
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.worker.outbox import key_partition

#: Subjects the simulation understands, per source topic (anything else is skipped).
_SUBJECTS = {
    ACTIVITY: frozenset({"activity_event"}),
    PROFILE: frozenset({"candidate_profile", "erasure_request"}),
}


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of the candidate's partition: its topic (``ACTIVITY`` or ``PROFILE``, the
    unprefixed name), key and value (None: a tombstone)."""

    topic: str
    key: bytes | None
    value: bytes | None


@dataclass
class CandidateHistory:
    """What the topics hold for one candidate, ready for the simulation."""

    candidate_id: str
    #: ``(subject, record)`` pairs in topic order (profiles first, then events); the
    #: simulation sorts them into event-time order itself.
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Records with the candidate's key that did not decode or are of another subject (they
    #: went to the dead-letter topic in the worker too).
    skipped: int = 0
    #: The partition read, per unprefixed topic name.
    partitions: dict[str, int] = field(default_factory=dict)

    def count(self, subject: str) -> int:
        """How many records of ``subject`` were found."""
        return sum(1 for found, _ in self.records if found == subject)


def history_records(
    candidate_id: str, raw: Iterable[RawRecord], codec: Codec | None = None
) -> CandidateHistory:
    """Decode the records keyed by ``candidate_id`` (others are ignored); pure.

    Tombstones are skipped (compaction's leftovers), and so are records that do not decode,
    are of a subject the topic should not hold, or whose ``candidate_id`` is not their key
    (counted in ``skipped``): the worker dead-letters exactly those.
    """
    codec = codec or default_codec()
    key = candidate_id.encode()
    history = CandidateHistory(candidate_id)
    for record in raw:
        if record.key != key or record.value is None:
            continue
        try:
            decoded = codec.decode(record.value)
        except SchemaError:
            history.skipped += 1
            continue
        wanted = _SUBJECTS.get(record.topic, frozenset())
        if decoded.subject not in wanted or decoded.record.get("candidate_id") != candidate_id:
            history.skipped += 1
            continue
        history.records.append((decoded.subject, decoded.record))
    return history


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
