"""The checks every consumed record passes before it is processed (size, key, partition).

Each raises a :class:`~schemas.errors.SchemaError` subclass: the processors dead-letter the
record with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.errors import (
    InvalidKeyError,
    RecordTooLargeError,
    ValidationError,
    WrongPartitionError,
)
from schemas.modelbase import EARLIEST_UTC, LATEST_UTC
from streams.worker.outbox import key_partition
from streams.worker.step import INTERNAL_PREFIX


def check_size(value: bytes | None, limit: int) -> None:
    """Refuse a value over ``limit`` bytes before it is decoded (None is left to the decoder,
    which says it is a tombstone)."""
    if value is not None and len(value) > limit:
        raise RecordTooLargeError(len(value), limit)


def check_key(key: bytes | None, candidate_id: str, record_id: str | None) -> None:
    """Refuse a record whose Kafka key is not its candidate id (its row would be misplaced),
    and ids starting with a NUL byte (the table's own bookkeeping keys do)."""
    if key is not None and key.startswith(INTERNAL_PREFIX):
        raise ValidationError(
            "candidate_id", "a candidate id may not start with a NUL byte", event_id=record_id
        )
    if key is None or key != candidate_id.encode():
        raise _key_problem(key, candidate_id, record_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST_US = (EARLIEST_UTC - _EPOCH) // timedelta(microseconds=1)
_LATEST_US = (LATEST_UTC - _EPOCH) // timedelta(microseconds=1)


def check_time(occurred_at_us: int, record_id: str | None) -> None:
    """Refuse an event time no time zone can show (within a day of year 1 or 9999): the
    models refuse it, but a producer writing Avro itself bypasses them, and the campaigns'
    local-time guards would overflow on it in every retry of the batch."""
    if not _EARLIEST_US <= occurred_at_us <= _LATEST_US:
        raise ValidationError(
            "occurred_at",
            "is out of range: give a time from 0001-01-02 to 9999-12-30 (UTC)",
            event_id=record_id,
        )


def check_partition(key: bytes, partition: int, partitions: int) -> None:
    """Refuse a record that is not on the partition its key hashes to (murmur2, as every
    producer of ours, the Java client and kafka-python partition): processed here, its
    candidate's state would be split between two partitions (and two workers)."""
    expected = key_partition(key, partitions)
    if expected != partition:
        raise WrongPartitionError(partition, expected, partitions)


def _key_problem(key: bytes | None, candidate_id: str, record_id: str | None) -> ValidationError:
    """Why ``key`` cannot be the key of ``candidate_id``'s record. The key is shown only as its
    size and first bytes in hex (it may hold anything a producer put there)."""
    shown_id = candidate_id if len(candidate_id) <= 80 else f"{candidate_id[:80]}..."
    rule = f"the key must be the candidate id {shown_id!r} (partitioning)"
    if key is None:
        return InvalidKeyError(f"record has no key (null); {rule}", event_id=record_id)
    shown = f"{len(key)} bytes, starts {key[:8].hex(' ')}"
    try:
        key.decode()
    except UnicodeDecodeError as exc:
        return InvalidKeyError(
            f"not UTF-8 text ({shown}; invalid byte at {exc.start}); {rule}", event_id=record_id
        )
    return ValidationError(
        "candidate_id", f"record has another key ({shown}); {rule}", event_id=record_id
    )
