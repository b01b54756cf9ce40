"""Helpers for tests against the real broker: awaiting conditions, reading topics back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from kafka.consumer.fetcher import ConsumerRecord

from schemas.kafka_seam.reader import open_reader, read_to_end
from schemas.settings import KafkaSettings

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``condition`` until it returns something truthy; fail the test after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


#: Every name ``unique`` handed out in this process (the session sweep deletes their topics).
ISSUED: set[str] = set()


def unique(prefix: str = "t") -> str:
    """A fresh name such as ``test-1a2b3c4d5e``, remembered for the end-of-session cleanup."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    ISSUED.add(name)
    return name


def read_all(settings: KafkaSettings, topic: str, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Every record currently in ``topic`` (all partitions, from the beginning to the end
    offsets taken now), through the seam's reader."""
    reader = open_reader(settings)
    try:
        partitions = reader.partitions_for(topic)
        if not partitions:
            raise AssertionError(f"topic {topic} does not exist")
        return list(read_to_end(reader, partitions, timeout_s=timeout_s))
    finally:
        reader.close()
