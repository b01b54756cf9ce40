"""KEK rotation: rewrap every live data key record under the current key-encryption key.

Same record key, same data key, new wrapping: compaction then drops the old wrapping, and once no
live record names the old KEK it can be destroyed (docs/privacy.md). Keys wrapped with a KEK that
is not configured are counted as ``unusable`` and left alone.

An erasure may tombstone a key between the scan and its rewrite; the rewrite would then bring the
key back. So after writing, the topic is read on from the scan's end: a tombstone of a rewrapped
key found *before* the rewrite (same record key, same partition, lower offset) is written again.
"""

from __future__ import annotations

from typing import NamedTuple

from kafka.errors import KafkaError

from producers.key_topic import read_from_beginning, read_on
from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam import clients
from schemas.kafka_seam.proto import Record
from schemas.kafka_seam.reader import open_reader
from schemas.privacy.data_keys import decode_key_record, encode_key_record, wrapped_kek_id
from schemas.privacy.errors import KeyRecordError
from schemas.privacy.kek import KeyEncryptionKeys
from schemas.settings import KafkaSettings
from schemas.topics import KEYS


class RewrapReport(NamedTuple):
    """What a rewrap did."""

    live: int
    rewrapped: int
    #: Live keys wrapped with a KEK that is not configured (or malformed): left as they are.
    unusable: int
    #: Keys erased while they were being rewrapped, tombstoned again.
    erased_again: int


def rewrap_keys(kafka: KafkaSettings, keks: KeyEncryptionKeys, *, timeout_s: float) -> RewrapReport:
    """Rewrap every live key of ``candidate.keys`` not wrapped with ``keks.current``."""
    topic = kafka.topic(KEYS)
    reader = open_reader(kafka)
    try:
        producer = clients.producer(kafka, acks="all")
    except KafkaError as exc:
        reader.close()
        raise KafkaUnavailableError(f"cannot reach Kafka: {type(exc).__name__}") from exc
    try:
        latest: dict[bytes, bytes | None] = {}

        def remember(record: Record) -> None:
            if record.key is not None:  # key records always have one
                latest[record.key] = record.value

        partitions = read_from_beginning(reader, topic, timeout_s, remember)
        live = {name: value for name, value in latest.items() if value is not None}
        written: dict[bytes, tuple[int, int]] = {}
        unusable = 0
        for name, value in live.items():
            try:
                if wrapped_kek_id(name, value) == keks.current_id:
                    continue
                key = decode_key_record(name, value, keks)
            except KeyRecordError:
                unusable += 1
                continue
            _, new_value = encode_key_record(key, keks)
            meta = producer.send(topic, key=name, value=new_value).get(timeout=timeout_s)
            written[name] = (meta.partition, meta.offset)
        erased: set[bytes] = set()

        def check(record: Record) -> None:
            mine = written.get(record.key) if record.key is not None else None
            if (
                mine is not None
                and record.key is not None
                and record.value is None
                and record.offset < mine[1]
            ):
                erased.add(record.key)

        read_on(reader, partitions, timeout_s, check)
        for name in erased:
            producer.send(topic, key=name, value=None).get(timeout=timeout_s)
        return RewrapReport(len(live), len(written), unusable, len(erased))
    except KafkaError as exc:
        raise KafkaUnavailableError(
            f"{topic}: rewrap interrupted ({type(exc).__name__}); run it again"
        ) from exc
    finally:
        producer.close(timeout=5)
        reader.close()
