"""The worker's one door into aiokafka's private members, with a start-up check.

faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and ``fetch_min_bytes=1``
and offers no setting for either (see ``fetch_tuning.py`` for why the worker changes them).
aiokafka reads both from its fetcher when it builds each fetch request, so setting them there
takes effect on the next fetch. :func:`check` verifies at start-up that those attributes still
exist in the installed aiokafka, naming its version and the missing member in one line.
Tested with :data:`TESTED_VERSION`; ``pyproject.toml`` pins it.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher

from schemas.errors import ConfigError

#: The aiokafka release these members were read from and tested with.
TESTED_VERSION = "0.14.0"

#: (class, method that sets the attribute, attribute, who needs it).
PRIVATE_MEMBERS: tuple[tuple[type, str, str, str], ...] = (
    (AIOKafkaConsumer, "start", "_fetcher", "fetch tuning (the consumer's fetcher)"),
    (Fetcher, "__init__", "_fetch_min_bytes", "fetch tuning (bytes a fetch waits for)"),
    (Fetcher, "__init__", "_fetch_max_wait_ms", "fetch tuning (longest a fetch waits)"),
)


class MissingInternalsError(ConfigError):
    """Raised at start-up when the installed aiokafka lacks a member the worker depends on."""


def sets_attribute(cls: type, method: str, name: str) -> bool:
    """True when ``cls.method`` assigns ``self.<name>`` (read off its compiled code)."""
    function = getattr(cls, method, None)
    code = getattr(function, "__code__", None)
    return code is not None and name in code.co_names


def missing_members() -> list[str]:
    """One line per attribute the installed aiokafka no longer sets (empty: all there)."""
    return [
        f"{cls.__module__}.{cls.__qualname__}.{name} (needed by {why})"
        for cls, method, name, why in PRIVATE_MEMBERS
        if not sets_attribute(cls, method, name)
    ]


def check(library: str = "aiokafka") -> None:
    """Fail fast, in one line, when the installed aiokafka lacks a member used here."""
    missing = missing_members()
    if missing:
        raise MissingInternalsError(
            f"{library} {version(library)} lacks {missing[0]}"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
            + f"; this worker is tested with {library} {TESTED_VERSION}"
        )


def set_fetch_sizes(consumer: Any, min_bytes: int, max_wait_ms: int) -> bool:
    """Set the fetch sizes of a started ``AIOKafkaConsumer``; False before it has a fetcher."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None:
        return False
    # Plain attributes read when the next fetch request is built (no locking needed).
    fetcher._fetch_min_bytes = min_bytes
    fetcher._fetch_max_wait_ms = max_wait_ms
    return True
