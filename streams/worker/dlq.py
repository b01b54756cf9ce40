"""Dead-lettering: records the worker cannot use go to ``<topic>.dlq`` with their original bytes.

The worker never stops on a bad record: it publishes the record's original key, value and
headers to the dead-letter topic, adds headers saying where it came from and why it failed,
and goes on with the next record (the offset is committed like any other).

Headers added (values UTF-8):

=================================  =================================================
``nurture.dlq.topic``              topic the record was read from
``nurture.dlq.partition``          its partition (decimal)
``nurture.dlq.offset``             its offset (decimal)
``nurture.dlq.error_class``        the exception class, e.g. ``CorruptPayloadError``
``nurture.dlq.error_message``      the exception message (what a person needs to act)
=================================  =================================================

A dead letter is never larger than :data:`MAX_LETTER_BYTES` (key, value and headers), so
publishing it cannot fail on the topic's ``max.message.bytes`` (a failed publish would stop the
worker on every restart). A larger one keeps a prefix of its value (and, when the key or the
original headers alone take more than a quarter of the bound, a prefix of the key and none of the
original headers), with these headers added:

=================================  =================================================
``nurture.dlq.truncated``          what was cut: ``value``, ``key``, ``headers`` (comma-separated)
``nurture.dlq.value_bytes``        the original value's size (decimal bytes) ...
``nurture.dlq.value_sha256``       ... and SHA-256 (hex); ``key_bytes``/``key_sha256`` likewise
``nurture.dlq.headers_dropped``    how many original headers were left out
=================================  =================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.topics import ACTIVITY, ACTIVITY_DLQ, PROFILE, PROFILE_DLQ

HEADER_TOPIC = "nurture.dlq.topic"
HEADER_PARTITION = "nurture.dlq.partition"
HEADER_OFFSET = "nurture.dlq.offset"
HEADER_ERROR_CLASS = "nurture.dlq.error_class"
HEADER_ERROR_MESSAGE = "nurture.dlq.error_message"
HEADER_TRUNCATED = "nurture.dlq.truncated"
HEADER_HEADERS_DROPPED = "nurture.dlq.headers_dropped"

#: Which dead-letter topic takes the rejects of which source topic (unprefixed names).
DLQ_FOR: dict[str, str] = {ACTIVITY: ACTIVITY_DLQ, PROFILE: PROFILE_DLQ}

#: Longest error message kept in a header (messages quote payload starts, keep them bounded).
MAX_MESSAGE_CHARS = 2000

#: Largest dead letter (key, value and headers, in bytes): half the broker's default
#: ``max.message.bytes`` (1 MiB), so it fits the dead-letter topic and one producer batch.
MAX_LETTER_BYTES = 512 * 1024
#: Room kept for the headers that say what was cut (bytes).
_TRUNCATION_HEADERS_BYTES = 512
#: Bytes Kafka adds to each header and record besides their contents (varints, attributes).
_HEADER_OVERHEAD = 10
_RECORD_OVERHEAD = 64

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected record, ready to publish to its dead-letter topic."""

    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(  # noqa: PLR0913 - keyword-only coordinates of the consumed record (no shared type)
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]] | None,
    topic: str,
    partition: int,
    offset: int,
    error: BaseException,
    max_bytes: int = MAX_LETTER_BYTES,
) -> DeadLetter:
    """The dead letter of a record read from ``topic[partition]@offset`` that raised ``error``,
    cut to ``max_bytes`` when it is larger (see the module docstring)."""
    kept = [(name, val) for name, val in headers or () if not name.startswith("nurture.dlq.")]
    ours = [
        (HEADER_TOPIC, topic.encode()),
        (HEADER_PARTITION, str(partition).encode()),
        (HEADER_OFFSET, str(offset).encode()),
        (HEADER_ERROR_CLASS, type(error).__name__.encode()),
        (HEADER_ERROR_MESSAGE, str(error)[:MAX_MESSAGE_CHARS].encode("utf-8", "replace")),
    ]
    if letter_bytes(key, value, kept + ours) > max_bytes:
        return _cut(key, value, kept, ours, max_bytes)
    return DeadLetter(key=key, value=value, headers=kept + ours)


def letter_bytes(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> int:
    """An upper bound of the bytes a record with this key, value and headers takes in a batch."""
    size = _RECORD_OVERHEAD + len(key or b"") + len(value or b"")
    for name, val in headers:
        size += _HEADER_OVERHEAD + len(name.encode()) + len(val or b"")
    return size


def _cut(
    key: bytes | None,
    value: bytes | None,
    kept: Headers,
    ours: Headers,
    max_bytes: int,
) -> DeadLetter:
    """The letter within ``max_bytes``: the original headers and key when each takes at most a
    quarter of it (else none of the headers and a prefix of the key), and as much of the value
    as then fits; headers say what was cut, with the original size and SHA-256."""
    share = max_bytes // 4
    cut: list[str] = []
    notes: Headers = []
    if letter_bytes(None, None, kept) > share:
        notes.append((HEADER_HEADERS_DROPPED, str(len(kept)).encode()))
        kept = []
        cut.append("headers")
    if key is not None and len(key) > share:
        notes += _digest("key", key)
        key = key[:share]
        cut.append("key")
    room = max_bytes - _TRUNCATION_HEADERS_BYTES - letter_bytes(key, None, kept + ours + notes)
    if value is not None and len(value) > room:
        notes += _digest("value", value)
        value = value[: max(room, 0)]
        cut.append("value")
    notes.insert(0, (HEADER_TRUNCATED, ",".join(cut).encode()))
    return DeadLetter(key=key, value=value, headers=kept + ours + notes)


def _digest(part: str, data: bytes) -> Headers:
    return [
        (f"nurture.dlq.{part}_bytes", str(len(data)).encode()),
        (f"nurture.dlq.{part}_sha256", hashlib.sha256(data).hexdigest().encode()),
    ]
