"""One behaviour suite for the Kafka seam's roles (schemas/kafka_seam/proto.py), run against the
in-memory twin (schemas/kafka_seam/memory.py) and against the real broker.

What a pure test learns from the twin holds on the broker because both pass these tests: topic
admin (create, describe, delete), keyed records on the murmur2 partition, reading to the end
offsets taken when the read starts, and replay's reads: an offset range of one partition (also
of a compacted topic, where offsets have gaps), the stall error, offsets by time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pytest

from schemas.kafka_seam import topic_admin
from schemas.kafka_seam.broker import KafkaRecordSink, KafkaTopicAdmin
from schemas.kafka_seam.memory import MemoryCluster
from schemas.kafka_seam.partitioner import key_partition
from schemas.kafka_seam.proto import (
    ReadStalledError,
    Record,
    RecordSink,
    TopicAdmin,
    TopicPartition,
    TopicReader,
)
from schemas.kafka_seam.reader import open_reader, read_range, read_to_end
from tests.kafka_helpers import unique, wait_until

PARTITIONS = 3
TIMEOUT_S = 30.0


@dataclass
class Seam:
    """One implementation of every role, and the full name of a topic of this test."""

    admin: TopicAdmin
    sink: RecordSink
    reader: Callable[[], TopicReader]
    topic: Callable[[str], str]
    #: Returns once the log cleaner has compacted the records of ``partition`` of a compacted
    #: topic below ``offset`` (the last record of each key left).
    compacted: Callable[[TopicPartition, int], None]

    def new_topic(
        self,
        name: str = "t",
        partitions: int = PARTITIONS,
        configs: dict[str, str] | None = None,
    ) -> str:
        full = self.topic(name)
        assert self.admin.create_topic(full, partitions, configs or {"retention.ms": "3600000"})
        return full

    def write(self, topic: str, *pairs: tuple[bytes | None, bytes]) -> None:
        for key, value in pairs:
            self.sink.send(topic, key, value)
        self.sink.flush(TIMEOUT_S)


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
def seam(request: pytest.FixtureRequest) -> Iterator[Seam]:
    if request.param == "memory":
        cluster = MemoryCluster()

        def compact(partition: TopicPartition, offset: int) -> None:
            cluster.compact(partition.topic)

        yield Seam(cluster.admin(), cluster.sink(), cluster.reader, lambda name: name, compact)
        return
    base = request.getfixturevalue("kafka_base")
    kafka = base.model_copy(update={"topic_prefix": unique("seam") + "."})
    sink = KafkaRecordSink(kafka, linger_ms=0)
    readers: list[TopicReader] = []

    def reader() -> TopicReader:
        readers.append(open_reader(kafka))
        return readers[-1]

    def compacted(partition: TopicPartition, offset: int) -> None:
        """Await the cleaner: records on a filler key roll the segment (segment.ms) until the
        records below ``offset`` read back as one per key."""
        probe = reader()

        def done() -> bool:
            sink.send(partition.topic, b"filler", b"", partition=partition.partition)
            sink.flush(TIMEOUT_S)
            keys = [r.key for r in read_range(probe, partition, 0, offset, stall_timeout_s=10)]
            return len(keys) == len(set(keys))

        wait_until(done, timeout_s=120, interval_s=0.5, what=f"{partition} to be compacted")

    try:
        yield Seam(KafkaTopicAdmin(kafka), sink, reader, kafka.topic, compacted)
    finally:
        for each in readers:
            each.close()
        sink.close()
        topic_admin.delete_prefixed(kafka)


def _pairs(records: list[Record]) -> list[tuple[bytes | None, bytes | None]]:
    return [(r.key, r.value) for r in records]


def test_a_created_topic_is_described_listed_and_deleted(seam: Seam) -> None:
    name = seam.new_topic()
    assert seam.admin.partition_count(name) == PARTITIONS
    assert name in seam.admin.list_topics()
    assert not seam.admin.create_topic(name, PARTITIONS + 1, {}), "exists: left as it is"
    assert seam.admin.partition_count(name) == PARTITIONS
    seam.admin.delete_topics([name, seam.topic("never-created")])
    assert seam.admin.partition_count(name) is None
    assert name not in seam.admin.list_topics()


def test_a_missing_topic_has_no_partitions(seam: Seam) -> None:
    assert seam.admin.partition_count(seam.topic("missing")) is None
    assert seam.reader().partitions_for(seam.topic("missing")) == []


def test_keyed_records_land_on_the_murmur2_partition_in_order(seam: Seam) -> None:
    topic = seam.new_topic()
    keys = [f"cand-{n}".encode() for n in range(12)]
    seam.write(topic, *((key, b"v-" + key) for key in keys), *((key, b"w-" + key) for key in keys))
    reader = seam.reader()
    partitions = reader.partitions_for(topic)
    assert partitions == [TopicPartition(topic, p) for p in range(PARTITIONS)]
    records = list(read_to_end(reader, partitions, timeout_s=TIMEOUT_S))
    assert len(records) == 2 * len(keys)
    for record in records:
        assert record.key is not None
        assert record.topic == topic
        assert record.partition == key_partition(record.key, PARTITIONS)
    # Not only key_partition agreeing with itself: the Java client's murmur2 of these keys
    # (org.apache.kafka.common.utils.Utils test vectors) puts them here.
    java = {b"21": -973932308, b"foobar": -790332482, b"abc": 479470107}
    seam.write(topic, *((key, b"java") for key in java))
    placed = {
        r.key: r.partition
        for r in read_to_end(reader, partitions, timeout_s=TIMEOUT_S)
        if r.value == b"java"
    }
    assert placed == {k: (h & 0x7FFFFFFF) % PARTITIONS for k, h in java.items()}
    for tp in partitions:
        mine = [r for r in records if r.partition == tp.partition]
        assert [r.offset for r in mine] == list(range(len(mine))), "offsets 0.. in order"
        # each key's first value before its second one
        assert [r.value for r in mine if r.value.startswith(b"v-")] == [  # type: ignore[union-attr]
            b"v-" + k for k in keys if key_partition(k, PARTITIONS) == tp.partition
        ]


def test_a_read_stops_at_the_end_offsets_taken_when_it_starts(seam: Seam) -> None:
    topic = seam.new_topic()
    seam.write(topic, (b"cand-1", b"one"), (b"cand-2", b"two"))
    reader = seam.reader()
    partitions = reader.partitions_for(topic)
    reading = read_to_end(reader, partitions, timeout_s=TIMEOUT_S)
    first = next(reading)  # the end offsets are taken now
    seam.write(topic, (b"cand-1", b"later"), (b"cand-3", b"later"))
    rest = list(reading)
    assert sorted(_pairs([first, *rest])) == [(b"cand-1", b"one"), (b"cand-2", b"two")]
    # the later records are left for the next read, none lost
    later = list(reader.read_to(reader.end_offsets(partitions, TIMEOUT_S), TIMEOUT_S))
    assert sorted(_pairs(later)) == [(b"cand-1", b"later"), (b"cand-3", b"later")]
    assert list(reader.read_to(reader.end_offsets(partitions, TIMEOUT_S), TIMEOUT_S)) == []


def test_only_the_assigned_partitions_are_read_from_a_sought_offset(seam: Seam) -> None:
    topic = seam.new_topic()
    keys = [f"cand-{n}".encode() for n in range(20)]
    seam.write(topic, *((key, key) for key in keys))
    chosen = TopicPartition(topic, key_partition(b"cand-7", PARTITIONS))
    expected = [k for k in keys if key_partition(k, PARTITIONS) == chosen.partition]
    reader = seam.reader()
    assert [r.key for r in read_to_end(reader, [chosen], timeout_s=TIMEOUT_S)] == expected
    reader.seek(chosen, 1)
    again = reader.read_to(reader.end_offsets([chosen], TIMEOUT_S), TIMEOUT_S)
    assert [r.key for r in again] == expected[1:]


def test_an_empty_topic_reads_as_nothing(seam: Seam) -> None:
    topic = seam.new_topic(partitions=2)
    reader = seam.reader()
    assert list(read_to_end(reader, reader.partitions_for(topic), timeout_s=TIMEOUT_S)) == []


def _offsets(records: Iterable[Record]) -> list[int]:
    return [r.offset for r in records]


def test_a_range_reads_its_offsets_only_even_when_a_fetch_runs_past_it(seam: Seam) -> None:
    topic = seam.new_topic(partitions=1)
    seam.write(topic, *((b"cand-1", f"v{n}".encode()) for n in range(10)))
    tp = TopicPartition(topic, 0)
    reader = seam.reader()
    # one fetch brings all ten records: the range must end at 7 within it
    assert _offsets(read_range(reader, tp, 3, 7, stall_timeout_s=TIMEOUT_S)) == [3, 4, 5, 6]
    assert _offsets(read_range(reader, tp, 7, 10, max_records=2)) == [7, 8, 9]
    assert _offsets(read_range(reader, tp, 0, 10, max_records=1)) == list(range(10))
    assert list(read_range(reader, tp, 5, 5)) == []
    # a read after a range goes on where it stopped, not where the fetch did
    reading = read_range(reader, tp, 0, 4)
    assert _offsets(reading) == [0, 1, 2, 3]
    assert _offsets(reader.read_to({tp: 6}, TIMEOUT_S)) == [4, 5]


def test_a_compacted_range_skips_the_removed_offsets(seam: Seam) -> None:
    compact = {
        "cleanup.policy": "compact",
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.001",
        "min.compaction.lag.ms": "0",
    }
    topic = seam.new_topic(partitions=1, configs=compact)
    tp = TopicPartition(topic, 0)
    # a@0 b@1 c@2 b@3 d@4 c@5: the cleaner leaves a@0, b@3, d@4, c@5 (1 and 2 become a gap)
    seam.write(topic, *((bytes([key]), b"%c@%d" % (key, n)) for n, key in enumerate(b"abcbdc")))
    seam.compacted(tp, 6)
    reader = seam.reader()
    everything = list(read_range(reader, tp, 0, 6, stall_timeout_s=TIMEOUT_S))
    assert [r.value for r in everything] == [b"a@0", b"b@3", b"d@4", b"c@5"]
    assert _offsets(read_range(reader, tp, 0, 2)) == [0], "ends in the gap"
    assert _offsets(read_range(reader, tp, 1, 4)) == [3], "starts in the gap"
    assert _offsets(read_range(reader, tp, 1, 3)) == [], "wholly in the gap"
    assert _offsets(read_range(reader, tp, 0, 5, max_records=1)) == [0, 3, 4]


@pytest.mark.timeout(60)  # without the stall error the read would wait on for ever
def test_a_range_past_the_records_raises_the_stall_error(seam: Seam) -> None:
    topic = seam.new_topic(partitions=1)
    seam.write(topic, (b"cand-1", b"one"), (b"cand-1", b"two"))
    tp = TopicPartition(topic, 0)
    got: list[Record] = []
    with pytest.raises(ReadStalledError) as stalled:
        got.extend(read_range(seam.reader(), tp, 0, 5, stall_timeout_s=1.0))
    assert _offsets(got) == [0, 1], "the records there are read first"
    error = stalled.value
    assert (error.partition, error.offset, error.end) == (tp, 2, 5)
    assert str(error) == f"{topic}[0]: no records for 1s at offset 2 (range ends at 5)"
    assert error.retriable


def test_offsets_for_times_give_the_first_record_at_or_after_a_time(seam: Seam) -> None:
    topic = seam.new_topic(partitions=2)
    seam.write(topic, *((f"cand-{n}".encode(), b"v") for n in range(8)))
    reader = seam.reader()
    partitions = reader.partitions_for(topic)
    records = list(read_to_end(reader, partitions, timeout_s=TIMEOUT_S))
    assert reader.beginning_offsets(partitions, TIMEOUT_S) == dict.fromkeys(partitions, 0)
    for record in records:
        found = reader.offsets_for_times(partitions, record.timestamp, TIMEOUT_S)
        tp = TopicPartition(topic, record.partition)
        assert found[tp] == min(
            r.offset
            for r in records
            if r.partition == record.partition and r.timestamp >= record.timestamp
        )
    latest = max(r.timestamp for r in records)
    assert reader.offsets_for_times(partitions, latest + 1, TIMEOUT_S) == dict.fromkeys(
        partitions, None
    )
