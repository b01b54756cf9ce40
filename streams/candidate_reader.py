"""Read one candidate's records from Kafka for ``nurture campaigns simulate --candidate ID``.

Producers key every record by candidate id with the default murmur2 partitioner, so the
candidate's profiles, erasure requests and activity events are all on one partition of
``candidate.profile`` and of ``candidate.activity``: only that partition is read
(:func:`~schemas.kafka_seam.partitioner.key_partition`), from its start to the end offset taken when
reading starts, with the seam's group-less reader that commits nothing and writes nothing.
:func:`~streams.campaigns.history.history_records` (pure) turns the records into the
simulation's input; this module is the small Kafka adapter around it, kept out of
``streams/campaigns`` so that the engine's package stays free of Kafka.
"""

from __future__ import annotations

from kafka.errors import KafkaError

from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam.partitioner import key_partition
from schemas.kafka_seam.proto import TopicPartition, TopicReader
from schemas.kafka_seam.reader import open_reader, read_to_end
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.campaigns.history import CandidateHistory, RawRecord, RecordDecoder, history_records


def read_candidate(
    kafka: KafkaSettings,
    candidate_id: str,
    *,
    timeout_s: float = 30.0,
    codec: RecordDecoder | None = None,
) -> CandidateHistory:
    """The candidate's records on ``candidate.profile`` and ``candidate.activity``, decoded
    with ``codec`` (None: single-object frames; the deployment's wire codec in Schema Registry
    mode reads both framings).

    Reads only the partition the candidate id hashes to, from the start to the end offsets
    taken at the call. Raises :class:`KafkaUnavailableError` when Kafka does not answer, a topic
    does not exist, or the partitions cannot be read to their end within ``timeout_s``.
    """
    reader = open_reader(kafka)
    try:
        raw, partitions = read_partitions(reader, kafka, candidate_id.encode(), timeout_s)
    except KafkaError as exc:
        raise KafkaUnavailableError(f"reading from Kafka failed: {type(exc).__name__}") from exc
    finally:
        reader.close()
    history = history_records(candidate_id, raw, codec)
    history.partitions = partitions
    return history


def read_partitions(
    reader: TopicReader, kafka: KafkaSettings, key: bytes, timeout_s: float
) -> tuple[list[RawRecord], dict[str, int]]:
    """The records of ``key``'s partition of each topic, profiles first."""
    chosen: dict[TopicPartition, str] = {}
    for name in (PROFILE, ACTIVITY):
        topic = kafka.topic(name)
        found_partitions = reader.partitions_for(topic)
        if not found_partitions:
            raise KafkaUnavailableError(f"topic {topic} does not exist (nurture topics create)")
        chosen[found_partitions[key_partition(key, len(found_partitions))]] = name
    found: dict[str, list[RawRecord]] = {name: [] for name in chosen.values()}
    for record in read_to_end(reader, list(chosen), timeout_s=timeout_s):
        if record.key == key:
            name = chosen[TopicPartition(record.topic, record.partition)]
            found[name].append(RawRecord(name, record.key, record.value))
    partitions = {name: tp.partition for tp, name in chosen.items()}
    return found[PROFILE] + found[ACTIVITY], partitions
