"""The worker refuses records that are not on the partition their key hashes to (pure part).

The broker test with a confluent-kafka producer is tests/test_worker_partitioner.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from producers.records import RecordEncoder
from schemas.codec import encode
from schemas.errors import SchemaError, WrongPartitionError
from streams.replay.processing import ReplayMessage
from streams.scoring.config import load_model
from streams.worker.dlq import HEADER_ERROR_CLASS, HEADER_PARTITION
from streams.worker.metrics import WorkerMetrics
from streams.worker.outbox import key_partition
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor, ProfileProcessor
from streams.worker.record_checks import check_partition

PARTITIONS = 6
ACTIVITY, PROFILE = "candidate.activity", "candidate.profile"
ACTIVITY_DLQ, PROFILE_DLQ = "candidate.activity.dlq", "candidate.profile.dlq"


@given(key=st.binary(min_size=1, max_size=64), partitions=st.integers(1, 64))
def test_exactly_the_murmur2_partition_passes(key: bytes, partitions: int) -> None:
    expected = key_partition(key, partitions)
    check_partition(key, expected, partitions)
    for other in {(expected + 1) % partitions, (expected + partitions - 1) % partitions}:
        if other == expected:
            continue
        with pytest.raises(WrongPartitionError) as raised:
            check_partition(key, other, partitions)
        assert (raised.value.partition, raised.value.expected) == (other, expected)
        assert isinstance(raised.value, SchemaError)  # dead-lettered like any bad record


#: murmur2 of keys as Kafka's Java client computes it (org.apache.kafka.common.utils.Utils,
#: its unit test's vectors): the Java DefaultPartitioner puts a key on
#: ``(hash & 0x7fffffff) % partitions``.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"abc": 479470107,
}


@pytest.mark.parametrize("key", sorted(JAVA_MURMUR2))
def test_the_partition_accepted_is_the_java_clients(key: bytes) -> None:
    for partitions in (1, 3, 6, 12, 64):
        java = (JAVA_MURMUR2[key] & 0x7FFFFFFF) % partitions
        assert key_partition(key, partitions) == java
        check_partition(key, java, partitions)


@dataclass
class _Table:
    data: dict[bytes, bytes] = field(default_factory=dict)


def _outputs() -> Outputs:
    topics = ("changelog", "candidate.engagement", ACTIVITY_DLQ, PROFILE_DLQ)
    return Outputs(
        table=_Table(),
        changelog="changelog",
        engagement="candidate.engagement",
        dlq={ACTIVITY: ACTIVITY_DLQ, PROFILE: PROFILE_DLQ},
        partitions=dict.fromkeys(topics, PARTITIONS),
        metrics=WorkerMetrics(CollectorRegistry()),
    )


def _event(n: int, candidate_id: str) -> tuple[bytes, bytes]:
    encoded = RecordEncoder().event(
        {
            "event_id": f"evt-{n}",
            "type": "page_viewed",
            "candidate_id": candidate_id,
            "occurred_at": "2026-03-01T09:30:00Z",
            "source": "ats",
            "payload": {"url": "https://careers.example.com/jobs/42", "page_type": "job"},
        }
    )
    return encoded.key, encoded.value


def test_activity_on_the_wrong_partition_is_dead_lettered_and_counted() -> None:
    outputs = _outputs()
    right = key_partition(b"cand-1", PARTITIONS)
    wrong = (right + 1) % PARTITIONS
    key, value = _event(1, "cand-1")
    other_key, other_value = _event(2, "cand-1")
    messages = [
        ReplayMessage(ACTIVITY, right, 10, key, value, [], 0),
        ReplayMessage(ACTIVITY, wrong, 11, other_key, other_value, [], 0),
    ]
    step = ActivityProcessor(load_model(), outputs).process(messages)
    sample = outputs.metrics.registry.get_sample_value
    assert sample("nurture_worker_events_total", {"outcome": "scored"}) == 1
    assert sample("nurture_worker_events_total", {"outcome": "dead_lettered"}) == 1
    labels = {"topic": ACTIVITY, "partition": str(wrong)}
    assert sample("nurture_worker_records_on_wrong_partition_total", labels) == 1
    reason = {"topic": ACTIVITY_DLQ, "reason": "WrongPartitionError"}
    assert sample("nurture_worker_dead_letters_total", reason) == 1
    [letters] = [
        records for (topic, _), records in step.outbox.records.items() if topic == ACTIVITY_DLQ
    ]
    [(letter_key, letter_value, headers)] = letters
    assert (letter_key, letter_value) == (other_key, other_value)
    found = dict(headers or [])
    assert found[HEADER_ERROR_CLASS] == b"WrongPartitionError"
    assert found[HEADER_PARTITION] == str(wrong).encode()
    # The row is written on the key's own partition only.
    rows = [
        (partition, record[0])
        for (topic, partition), records in step.seal().records.items()
        if topic == "changelog"
        for record in records
    ]
    assert rows == [(right, b"cand-1")]


def test_profile_on_the_wrong_partition_is_dead_lettered() -> None:
    outputs = _outputs()
    value = encode(
        "candidate_profile",
        {
            "candidate_id": "cand-7",
            "contact": {},
            "locale": "de-DE",
            "time_zone": "Europe/Berlin",
            "updated_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
            "source": "test",
        },
    )
    wrong = (key_partition(b"cand-7", PARTITIONS) + 2) % PARTITIONS
    message = ReplayMessage(PROFILE, wrong, 3, b"cand-7", value, [], 0)
    step = ProfileProcessor(outputs).process([message])
    sample = outputs.metrics.registry.get_sample_value
    assert sample("nurture_worker_profile_records_total", {"outcome": "dead_lettered"}) == 1
    labels = {"topic": PROFILE, "partition": str(wrong)}
    assert sample("nurture_worker_records_on_wrong_partition_total", labels) == 1
    assert [topic for topic, _ in step.outbox.records] == [PROFILE_DLQ]


def test_every_source_partition_is_counted_from_zero_before_any_record() -> None:
    # Prometheus's increase() ignores a series' first sample: a count born at its first
    # misplaced record would never fire the alert for a one-off burst, so it starts at 0.
    outputs = _outputs()
    sample = outputs.metrics.registry.get_sample_value
    for topic in (ACTIVITY, PROFILE):
        for partition in range(PARTITIONS):
            labels = {"topic": topic, "partition": str(partition)}
            assert sample("nurture_worker_records_on_wrong_partition_total", labels) == 0
