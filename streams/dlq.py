"""Dead-lettering: records the worker cannot use go to ``<topic>.dlq`` with their original bytes.

The worker never stops on a bad record: it publishes the record's original key, value and
headers to the dead-letter topic, adds headers saying where it came from and why it failed,
and goes on with the next record (the offset is committed like any other).

Headers added (values UTF-8):

=============================  =====================================================
``nurture.dlq.topic``          topic the record was read from
``nurture.dlq.partition``      its partition (decimal)
``nurture.dlq.offset``         its offset (decimal)
``nurture.dlq.error_class``    the exception class, e.g. ``CorruptPayloadError``
``nurture.dlq.error_message``  the exception message (what a person needs to act)
=============================  =====================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.topics import ACTIVITY, ACTIVITY_DLQ, PROFILE, PROFILE_DLQ

HEADER_TOPIC = "nurture.dlq.topic"
HEADER_PARTITION = "nurture.dlq.partition"
HEADER_OFFSET = "nurture.dlq.offset"
HEADER_ERROR_CLASS = "nurture.dlq.error_class"
HEADER_ERROR_MESSAGE = "nurture.dlq.error_message"

#: Which dead-letter topic takes the rejects of which source topic (unprefixed names).
DLQ_FOR: dict[str, str] = {ACTIVITY: ACTIVITY_DLQ, PROFILE: PROFILE_DLQ}

#: Longest error message kept in a header (messages quote payload starts, keep them bounded).
MAX_MESSAGE_CHARS = 2000

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected record, ready to publish to its dead-letter topic."""

    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]] | None,
    topic: str,
    partition: int,
    offset: int,
    error: BaseException,
) -> DeadLetter:
    """The dead letter of a record read from ``topic[partition]@offset`` that raised ``error``."""
    kept = [(name, val) for name, val in headers or () if not name.startswith("nurture.dlq.")]
    kept += [
        (HEADER_TOPIC, topic.encode()),
        (HEADER_PARTITION, str(partition).encode()),
        (HEADER_OFFSET, str(offset).encode()),
        (HEADER_ERROR_CLASS, type(error).__name__.encode()),
        (HEADER_ERROR_MESSAGE, str(error)[:MAX_MESSAGE_CHARS].encode("utf-8", "replace")),
    ]
    return DeadLetter(key=key, value=value, headers=kept)
