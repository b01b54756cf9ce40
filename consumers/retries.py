"""Retry scheduling: when the next attempt is due, and the headers that carry it.

A retriable failure does not block the partition: the action is re-published to the retry
topic :data:`ACTION_RETRY` with the headers below, and the same process consumes that topic,
pausing a retry partition until its head record is due. Pure functions, no Kafka.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from schemas.topics import ACTION_RETRY

__all__ = ["ACTION_RETRY"]

NOT_BEFORE_HEADER: Final = "nurture-not-before-ms"
ATTEMPT_HEADER: Final = "nurture-attempt"
FIRST_ATTEMPT_HEADER: Final = "nurture-first-attempt-ms"
REASON_HEADER: Final = "nurture-reason"


@dataclass(frozen=True)
class RetryInfo:
    """The attempt a retry record asks for, when it is due and when the first one happened."""

    attempt: int
    not_before_ms: int
    first_attempt_ms: int


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    max_delay_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay before attempt ``attempt + 1``: exponential with "equal jitter", at least the peer's
    ``Retry-After`` hint. ``attempt`` counts from 1.
    """
    ceiling = min(max_delay_s, base_s * 2 ** (attempt - 1))
    jittered: float = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    return max(jittered, retry_after_s or 0.0)


def retry_headers(info: RetryInfo, reason: str) -> list[tuple[str, bytes]]:
    """Kafka headers of a retry record."""
    return [
        (ATTEMPT_HEADER, str(info.attempt).encode()),
        (NOT_BEFORE_HEADER, str(info.not_before_ms).encode()),
        (FIRST_ATTEMPT_HEADER, str(info.first_attempt_ms).encode()),
        (REASON_HEADER, reason.encode()),
    ]


def read_retry_headers(headers: Sequence[tuple[str, bytes]]) -> RetryInfo | None:
    """The retry info of a record's headers, or None when they are missing or malformed."""
    found = {name: value for name, value in headers}
    try:
        return RetryInfo(
            attempt=int(found[ATTEMPT_HEADER]),
            not_before_ms=int(found[NOT_BEFORE_HEADER]),
            first_attempt_ms=int(found[FIRST_ATTEMPT_HEADER]),
        )
    except (KeyError, ValueError):
        return None
