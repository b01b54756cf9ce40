"""Conversions between aware datetimes and Avro ``timestamp-micros`` longs.

Exact integer arithmetic (no float rounding); naive datetimes are refused because fastavro and
many other libraries would silently read them as local time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: The Unix epoch, aware (UTC).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime; ValueError for a naive one."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware one")
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The aware UTC datetime ``value`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(0, 0, value)
