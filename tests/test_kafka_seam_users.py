"""Components that read through the seam's TopicReader, tested on the in-memory twin (no broker):
the key topic scan (producers/key_topic.py) and one candidate's partitions
(streams/candidate_reader.py). The twin passes the same conformance suite as the broker
(tests/test_kafka_seam_conformance.py)."""

from __future__ import annotations

import pytest

from producers.key_topic import read_from_beginning, read_on
from schemas.errors import ConfigError
from schemas.kafka_seam.memory import MemoryCluster
from schemas.kafka_seam.partitioner import key_partition
from schemas.kafka_seam.proto import Record
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.campaigns.history import RawRecord
from streams.candidate_reader import read_partitions

KAFKA = KafkaSettings(topic_prefix="p.")


def _cluster(*topics: str, partitions: int = 4) -> MemoryCluster:
    cluster = MemoryCluster()
    for topic in topics:
        cluster.admin().create_topic(topic, partitions, {})
    return cluster


def test_the_key_topic_is_read_whole_and_then_read_on() -> None:
    cluster = _cluster("keys")
    for n in range(10):
        cluster.append("keys", f"cand-{n}/k1".encode(), b"wrapped")
    seen: list[Record] = []
    reader = cluster.reader()
    partitions = read_from_beginning(reader, "keys", 5.0, seen.append)
    assert len(seen) == 10
    cluster.append("keys", b"cand-3/k1", None)
    later: list[Record] = []
    read_on(reader, partitions, 5.0, later.append)
    assert [(r.key, r.value) for r in later] == [(b"cand-3/k1", None)]


def test_a_missing_key_topic_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nurture topics create"):
        read_from_beginning(MemoryCluster().reader(), "keys", 5.0, lambda record: None)


def test_only_the_candidates_partition_and_records_are_read_profiles_first() -> None:
    profile, activity = KAFKA.topic(PROFILE), KAFKA.topic(ACTIVITY)
    cluster = _cluster(profile, activity)
    for n in range(30):  # other candidates, some on the same partition
        cluster.append(activity, f"cand-{n}".encode(), b"event")
    cluster.append(activity, b"cand-7", b"viewed")
    cluster.append(profile, b"cand-7", b"profile")
    cluster.append(activity, b"cand-7", b"applied")
    records, partitions = read_partitions(cluster.reader(), KAFKA, b"cand-7", 5.0)
    assert records == [
        RawRecord(PROFILE, b"cand-7", b"profile"),
        RawRecord(ACTIVITY, b"cand-7", b"event"),  # cand-7's own event among the 30
        RawRecord(ACTIVITY, b"cand-7", b"viewed"),
        RawRecord(ACTIVITY, b"cand-7", b"applied"),
    ]
    assert partitions == {
        PROFILE: key_partition(b"cand-7", 4),
        ACTIVITY: key_partition(b"cand-7", 4),
    }
