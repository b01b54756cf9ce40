"""Poison never stops a partition: every kind of bad input record is dead-lettered, and the next one
is processed.

One `nurture worker` process (memory store) serves the broker tests of this module, on topics of
its own: each test puts one bad record on a partition of ``candidate.activity`` or
``candidate.profile`` and a good record of a fresh candidate right behind it, then checks the dead
letter (original key, value and headers plus the ``nurture.dlq.*`` headers), the reason counted by
``nurture_worker_dead_letters_total``, that the good record was processed, and that the worker
still runs. The pure parts (bounded dead letters, the decoders on arbitrary bytes, the setting)
are tested without the broker at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from prometheus_client import CollectorRegistry
from pydantic import ValidationError as SettingsError

from schemas import wire
from schemas.codec import activity_codec, default_codec, encode
from schemas.errors import SchemaError, TombstoneError
from schemas.kafka_seam import clients, topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.bench.loadgen import START, LoadSpec, activity_events
from streams.scoring.config import load_model
from streams.worker.dlq import (
    DLQ_FOR,
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_HEADERS_DROPPED,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
    HEADER_TRUNCATED,
    DeadLetter,
    dead_letter,
    letter_bytes,
)
from streams.worker.metrics import WorkerMetrics
from streams.worker.outbox import key_partition
from streams.worker.outputs import Outputs
from streams.worker.probe import WorkerProcess
from streams.worker.processor import ActivityProcessor
from streams.worker.settings import DEFAULT_MAX_RECORD_BYTES, WorkerSettings
from tests.kafka_helpers import read_all, unique, wait_until
from tests.worker_support import WorkerHarness, answering, metric_value, published

#: Headers every poison record carries; the dead letter must keep them, first and unchanged.
ORIGINAL_HEADERS = [("nurture.source", b"poison-test"), ("trace", b"\x00\x01")]
#: The broker's default max.message.bytes: a record batch of at most this many bytes.
BROKER_MAX_MESSAGE_BYTES = 1_048_588


def activity_record(candidate_id: str, **changes: Any) -> bytes:
    """A valid activity event of ``candidate_id`` (fresh event id), with ``changes``."""
    event = next(activity_events(LoadSpec(events=1, run="poison")))
    event_id = f"evt-{uuid.uuid4().hex[:12]}"
    return activity_codec().encode(
        {**event, "event_id": event_id, "candidate_id": candidate_id, **changes}
    )


def profile_record(candidate_id: str, **changes: Any) -> bytes:
    """A valid profile of ``candidate_id`` (locale de-DE), with ``changes``."""
    profile = {
        "candidate_id": candidate_id,
        "contact": {},
        "locale": "de-DE",
        "time_zone": "Europe/Berlin",
        "updated_at": START,
        "source": "test",
    }
    return encode("candidate_profile", {**profile, **changes})


#: A valid record of a candidate, per source topic.
RECORDS: dict[str, Callable[..., bytes]] = {ACTIVITY: activity_record, PROFILE: profile_record}


class Poison(NamedTuple):
    """A bad record and what its dead letter must say."""

    key: bytes | None
    value: bytes | None
    error_class: str
    #: A fragment of ``nurture.dlq.error_message``.
    says: str


def null_value(source: str) -> Poison:
    return Poison(b"cand-tombstone", None, "TombstoneError", "value is null (a tombstone)")


def empty_value(source: str) -> Poison:
    return Poison(b"cand-empty", b"", "CorruptPayloadError", "it is empty (0 bytes)")


def null_key(source: str) -> Poison:
    return Poison(None, RECORDS[source]("cand-no-key"), "InvalidKeyError", "record has no key")


def non_utf8_key(source: str) -> Poison:
    value = RECORDS[source]("cand-latin1")
    return Poison("cand-latin1-é".encode("latin-1"), value, "InvalidKeyError", "not UTF-8 text")


def truncated(source: str) -> Poison:
    value = RECORDS[source]("cand-cut")
    return Poison(b"cand-cut", value[: len(value) // 2], "CorruptPayloadError", "does not decode")


def random_bytes(source: str) -> Poison:
    value = random.Random(14).randbytes(300)
    assert value[:2] != wire.MARKER
    return Poison(b"cand-noise", value, "CorruptPayloadError", "does not start with the Avro")


def unknown_fingerprint(source: str) -> Poison:
    value = wire.header(b"\x01\x02\x03\x04\x05\x06\x07\x08") + b"\x00" * 40
    return Poison(b"cand-future", value, "UnknownSchemaError", "0102030405060708")


def other_subject(source: str) -> Poison:
    """A valid record of the other input topic's subject: a topic mix-up."""
    other = PROFILE if source == ACTIVITY else ACTIVITY
    held = "candidate_profile v2" if source == ACTIVITY else "activity_event v2"
    return Poison(b"cand-mixup", RECORDS[other]("cand-mixup"), "WrongSubjectError", held)


#: The running worker's NURTURE_WORKER_MAX_RECORD_BYTES, below the default: a record between the
#: two is dead-lettered only if the setting reaches the processors.
WORKER_LIMIT = 16 * 1024


def over_the_size_limit(source: str) -> Poison:
    """A valid record, only too large for the worker's limit (a 20 KB string in it)."""
    big = "x" * 20_000
    value = (
        activity_record("cand-big", source=big)
        if source == ACTIVITY
        else profile_record("cand-big", source=big)
    )
    assert WORKER_LIMIT < len(value) < DEFAULT_MAX_RECORD_BYTES
    return Poison(b"cand-big", value, "RecordTooLargeError", f"limit of {WORKER_LIMIT} bytes")


def nul_candidate_id(source: str) -> Poison:
    value = RECORDS[source]("\x00timers/0/1")
    return Poison(b"\x00timers/0/1", value, "ValidationError", "may not start with a NUL byte")


def time_out_of_range(source: str) -> Poison:
    """An event at 0001-01-01T00:00:30Z, written with Avro directly (the models refuse it):
    the campaigns' local-time guards overflowed on it and crashed every retry of the batch."""
    value = activity_record("cand-year-1", occurred_at=YEAR_ONE)
    return Poison(b"cand-year-1", value, "ValidationError", "occurred_at: is out of range")


YEAR_ONE = datetime(1, 1, 1, 0, 0, 30, tzinfo=UTC)

KINDS: dict[str, Callable[[str], Poison]] = {
    "null-value": null_value,
    "empty-value": empty_value,
    "null-key": null_key,
    "non-utf8-key": non_utf8_key,
    "truncated": truncated,
    "random-bytes": random_bytes,
    "unknown-fingerprint": unknown_fingerprint,
    "other-subject": other_subject,
    "over-the-size-limit": over_the_size_limit,
    "nul-candidate-id": nul_candidate_id,
    "time-out-of-range": time_out_of_range,
}
#: The profile topic is compacted: the broker refuses records without a key there. Event times
#: are the activity topic's.
CASES = [
    pytest.param(source, kind, id=f"{source.split('.')[1]}-{kind}")
    for source in (ACTIVITY, PROFILE)
    for kind in KINDS
    if not (source == PROFILE and kind in ("null-key", "time-out-of-range"))
]


@dataclass
class Running:
    """The module's worker, its topics and a producer to put records on them."""

    kafka: KafkaSettings
    harness: WorkerHarness
    worker: WorkerProcess
    producer: KafkaProducer
    partitions: int

    def send(
        self,
        source: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> Any:
        """Send one record to ``source[partition]`` (a future of its metadata)."""
        topic = self.kafka.topic(source)
        return self.producer.send(topic, key=key, value=value, headers=headers, partition=partition)

    def follower(self) -> tuple[str, int]:
        """A fresh candidate id and the partition its key hashes to."""
        candidate_id = f"cand-{uuid.uuid4().hex[:12]}"
        return candidate_id, key_partition(candidate_id.encode(), self.partitions)

    def alive(self) -> bool:
        """True while the worker runs; fails the test with its logs when it exited."""
        assert self.worker.exit_code() is None, self.harness.logs()
        return True

    def dead_letters(self, source: str, reason: str) -> float:
        self.alive()
        dlq = self.kafka.topic(DLQ_FOR[source])
        labels = {"topic": dlq, "reason": reason}
        return metric_value(self.worker.port, "nurture_worker_dead_letters_total", labels)

    def letters_of(self, source: str, partition: int, offset: int) -> list[ConsumerRecord]:
        """The dead letters of ``source[partition]@offset``."""
        origin = (self.kafka.topic(source).encode(), str(partition).encode(), str(offset).encode())
        return [
            letter
            for letter in read_all(self.kafka, self.kafka.topic(DLQ_FOR[source]))
            if _origin(letter) == origin
        ]

    def processed(self, source: str, candidate_id: str, value: bytes) -> bool:
        """True once the worker has processed the good record ``value`` of ``candidate_id``:
        its engagement record (activity) or its row with the profile (profile) is published."""
        self.alive()
        if source == ACTIVITY:
            record = published(self.kafka).get(candidate_id)
            event_id = activity_codec().decode(value)["event_id"]
            return record is not None and record["last_event_id"] == event_id
        changelog = f"{self.harness.group}-candidates-changelog"
        rows = [m for m in read_all(self.kafka, changelog) if m.key == candidate_id.encode()]
        return any(orjson.loads(m.value)["profile"]["locale"] == "de-DE" for m in rows)


def _origin(letter: ConsumerRecord) -> tuple[bytes | None, ...]:
    headers = dict(letter.headers)
    return tuple(headers.get(name) for name in (HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET))


@pytest.fixture(scope="module")
def module_kafka(kafka_base: KafkaSettings) -> Iterator[KafkaSettings]:
    """The ``kafka`` fixture once for the module: one worker serves every test here (a worker
    takes seconds to start; each test's records are of their own candidates)."""
    kafka = kafka_base.model_copy(update={"topic_prefix": unique("poison") + "."})
    report = topic_admin.create_all(kafka)
    assert report.ok, report.conflicts
    yield kafka
    topic_admin.delete_prefixed(kafka)


@pytest.fixture(scope="module")
def running(
    module_kafka: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("poison")
    harness = WorkerHarness(
        module_kafka,
        tmp,
        unique("poison"),
        store="memory://",
        env={"NURTURE_WORKER_MAX_RECORD_BYTES": str(WORKER_LIMIT)},
    )
    producer = clients.producer(module_kafka, acks="all", max_request_size=2 * 1024 * 1024)
    try:
        worker = answering(harness.worker().start(), harness)
        partitions = module_kafka.topic_partitions
        yield Running(module_kafka, harness, worker, producer, partitions)
    finally:
        producer.close()
        harness.close()


def check_dead_lettered_and_going_on(
    running: Running, source: str, poison: Poison
) -> ConsumerRecord:
    """Send ``poison`` and a good record right behind it on one partition; check the good one
    is processed, the poison's dead letter and count, and that the worker runs. Returns the
    dead letter."""
    before = running.dead_letters(source, poison.error_class)
    follower, partition = running.follower()
    good = RECORDS[source](follower)
    sent = running.send(source, partition, poison.key, poison.value, ORIGINAL_HEADERS)
    after = running.send(source, partition, follower.encode(), good, [])
    offset, next_offset = sent.get(timeout=30).offset, after.get(timeout=30).offset
    assert next_offset > offset

    wait_until(
        lambda: running.processed(source, follower, good),
        timeout_s=60,
        interval_s=0.25,
        what=f"the record after the poison on {source}[{partition}] to be processed",
    )
    [letter] = running.letters_of(source, partition, offset)
    headers = dict(letter.headers)
    assert letter.headers[: len(ORIGINAL_HEADERS)] == ORIGINAL_HEADERS
    assert headers[HEADER_ERROR_CLASS] == poison.error_class.encode()
    message = headers[HEADER_ERROR_MESSAGE].decode()
    assert poison.says in message, message
    assert running.dead_letters(source, poison.error_class) == before + 1
    assert running.alive()
    return letter


@pytest.mark.kafka
@pytest.mark.parametrize(("source", "kind"), CASES)
def test_poison_is_dead_lettered_and_the_partition_goes_on(
    running: Running, source: str, kind: str
) -> None:
    poison = KINDS[kind](source)
    letter = check_dead_lettered_and_going_on(running, source, poison)
    assert (letter.key, letter.value) == (poison.key, poison.value)
    assert HEADER_TRUNCATED not in dict(letter.headers)


@pytest.mark.kafka
@pytest.mark.parametrize("source", [ACTIVITY, PROFILE], ids=["activity", "profile"])
def test_a_dead_letter_too_large_for_the_topic_keeps_a_prefix_and_the_digest(
    running: Running, source: str
) -> None:
    """A value so close to the broker's limit that it would not fit the dead-letter topic with
    the added headers: without the cut, the publish would fail and stop the worker."""
    key = b"cand-huge"
    value = random.Random(3).randbytes(BROKER_MAX_MESSAGE_BYTES - 260)
    assert letter_bytes(key, value, ORIGINAL_HEADERS) + 300 > BROKER_MAX_MESSAGE_BYTES
    poison = Poison(key, value, "RecordTooLargeError", f"value of {len(value)} bytes")
    letter = check_dead_lettered_and_going_on(running, source, poison)

    headers = dict(letter.headers)
    assert letter.key == key
    assert 0 < len(letter.value) < len(value) and value.startswith(letter.value)
    assert headers[HEADER_TRUNCATED] == b"value"
    assert headers["nurture.dlq.value_bytes"] == str(len(value)).encode()
    assert headers["nurture.dlq.value_sha256"] == hashlib.sha256(value).hexdigest().encode()


# --- Without the broker -------------------------------------------------------------------------


def _letter(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]], bound: int
) -> DeadLetter:
    return dead_letter(
        key=key,
        value=value,
        headers=headers,
        topic="t.candidate.activity",
        partition=2,
        offset=99,
        error=TombstoneError("why"),
        max_bytes=bound,
    )


@settings(max_examples=200, deadline=None)
@given(
    key_bytes=st.one_of(st.none(), st.integers(0, 40_000)),
    value_bytes=st.one_of(st.none(), st.integers(0, 80_000)),
    header_bytes=st.lists(st.integers(0, 9_000), max_size=6),
)
def test_a_dead_letter_never_exceeds_its_bound_and_says_what_was_cut(
    key_bytes: int | None, value_bytes: int | None, header_bytes: list[int]
) -> None:
    bound = 64 * 1024
    key = None if key_bytes is None else b"k" * key_bytes
    value = None if value_bytes is None else bytes(range(256)) * (value_bytes // 256)
    headers = [(f"h{n}", b"v" * size) for n, size in enumerate(header_bytes)]
    letter = _letter(key, value, headers, bound)

    assert letter_bytes(letter.key, letter.value, letter.headers) <= bound
    found = dict(letter.headers)
    assert found[HEADER_OFFSET] == b"99" and found[HEADER_ERROR_CLASS] == b"TombstoneError"
    cut = found.get(HEADER_TRUNCATED, b"").decode().split(",")
    if letter_bytes(key, value, headers) + 300 <= bound:  # fits: nothing is touched
        assert (letter.key, letter.value, letter.headers[: len(headers)]) == (key, value, headers)
        assert HEADER_TRUNCATED not in found
    for part, original, kept in (("key", key, letter.key), ("value", value, letter.value)):
        if part in cut:
            assert original is not None and kept is not None and original.startswith(kept)
            assert found[f"nurture.dlq.{part}_bytes"] == str(len(original)).encode()
            digest = hashlib.sha256(original).hexdigest().encode()
            assert found[f"nurture.dlq.{part}_sha256"] == digest
        else:
            assert kept == original
    if "headers" in cut:
        assert found[HEADER_HEADERS_DROPPED] == str(len(headers)).encode()
        assert not any(name.startswith("h") for name, _ in letter.headers)
    else:
        assert letter.headers[: len(headers)] == headers


FRAMES = [
    activity_record("cand-fuzz"),
    profile_record("cand-fuzz", interests=["data"], locations=["Berlin"]),
    encode(
        "erasure_request",
        {"request_id": "r-1", "candidate_id": "cand-fuzz", "requested_at": START, "source": "t"},
    ),
]


@settings(max_examples=1_000, deadline=None)
@given(frame=st.sampled_from(FRAMES), keep=st.integers(0, 400), noise=st.binary(max_size=300))
def test_any_bytes_decode_or_raise_a_schema_error(frame: bytes, keep: int, noise: bytes) -> None:
    """What the processors catch: the decoders raise nothing but SchemaError, whatever the
    bytes (a frame cut anywhere, then noise)."""
    data = frame[:keep] + noise
    for decode in (activity_codec().micros_decoder(), default_codec().decode):
        with contextlib.suppress(SchemaError):
            decode(data)


def test_the_size_limit_is_a_worker_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WorkerSettings().max_record_bytes == DEFAULT_MAX_RECORD_BYTES == 64 * 1024
    monkeypatch.setenv("NURTURE_WORKER_MAX_RECORD_BYTES", "4096")
    assert WorkerSettings().max_record_bytes == 4096
    monkeypatch.setenv("NURTURE_WORKER_MAX_RECORD_BYTES", "10")
    with pytest.raises(SettingsError, match="max_record_bytes"):
        WorkerSettings()

    class Record(NamedTuple):
        topic: str
        partition: int
        offset: int
        key: bytes
        value: bytes
        headers: tuple[()]

    outputs = Outputs(
        table=SimpleNamespace(data={}),
        changelog="changelog",
        engagement="engagement",
        dlq={"activity": "activity.dlq"},
        partitions={"changelog": 1, "engagement": 1, "activity.dlq": 1},
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    value = activity_record("cand-1", source="s" * 5000)
    processor = ActivityProcessor(load_model(), outputs, max_record_bytes=4096)
    step = processor.process([Record("activity", 0, 0, b"cand-1", value, ())])
    [letter] = step.outbox.records[("activity.dlq", 0)]
    assert dict(letter[2] or [])[HEADER_ERROR_CLASS] == b"RecordTooLargeError"
