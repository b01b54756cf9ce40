"""The worker's one door into aiokafka's private members, with a start-up check.

faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and ``fetch_min_bytes=1``
and offers no setting for either (see ``fetch_tuning.py`` for why the worker changes them).
aiokafka reads both from its fetcher when it builds each fetch request, so setting them there
takes effect on the next fetch. :func:`check` verifies at start-up that those attributes still
exist in the installed aiokafka, naming its version and the missing member in one line.
Tested with :data:`TESTED_VERSION`; ``pyproject.toml`` pins it.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher

from schemas import internals_check

#: The aiokafka release these members were read from and tested with.
TESTED_VERSION = "0.14.0"

#: (class, method that sets the attribute, attribute, who needs it).
PRIVATE_MEMBERS: tuple[tuple[type, str, str, str], ...] = (
    (AIOKafkaConsumer, "start", "_fetcher", "fetch tuning (the consumer's fetcher)"),
    (Fetcher, "__init__", "_fetch_min_bytes", "fetch tuning (bytes a fetch waits for)"),
    (Fetcher, "__init__", "_fetch_max_wait_ms", "fetch tuning (longest a fetch waits)"),
)


def missing_members() -> list[str]:
    """One line per attribute the installed aiokafka no longer sets (empty: all there)."""
    return [
        f"{cls.__module__}.{cls.__qualname__}.{name} (needed by {why})"
        for cls, method, name, why in PRIVATE_MEMBERS
        if not internals_check.assigns(cls, method, name)
    ]


def check() -> None:
    """Fail fast, in one line, when the installed aiokafka lacks a member used here."""
    internals_check.require("aiokafka", TESTED_VERSION, missing_members(), "this worker")


def set_fetch_sizes(consumer: Any, min_bytes: int, max_wait_ms: int) -> bool:
    """Set the fetch sizes of a started ``AIOKafkaConsumer``; False before it has a fetcher."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None:
        return False
    # Plain attributes read when the next fetch request is built (no locking needed).
    fetcher._fetch_min_bytes = min_bytes
    fetcher._fetch_max_wait_ms = max_wait_ms
    return True
