"""Fetch tuning for faust's aiokafka consumer (faust hard-codes fetch_max_wait_ms=1500 and
leaves fetch_min_bytes at 1).

With ``fetch_min_bytes=1`` the broker answers a fetch as soon as one record is there, so at a
moderate steady rate (2,000 events/s) the consumer fetches a few records at a time and the
per-fetch cost (request, response parsing, the hand-over from faust's consumer thread) dominates:
the worker fell seconds behind at 2,000 events/s. Asking for ``min_bytes`` but waiting at most
``max_wait_ms`` gives fewer, fuller fetches and bounds the added latency; under backlog the
broker fills a fetch at once, so catching up is unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


def _fetcher(app: Any) -> Any:
    try:
        return app.consumer._thread._consumer._fetcher
    except AttributeError:  # consumer thread not started yet
        return None


async def tune_fetcher(
    app: Any, min_bytes: int, max_wait_ms: int, timeout_s: float = 120.0
) -> None:
    """Set the fetch sizes on faust's aiokafka fetcher once it exists (it is built at start)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (fetcher := _fetcher(app)) is None:
        if asyncio.get_running_loop().time() > deadline:
            log.warning("consumer fetcher not found after %ss: fetch sizes not tuned", timeout_s)
            return
        await asyncio.sleep(0.05)
    # Plain attributes read when the next fetch request is built (no locking needed).
    fetcher._fetch_min_bytes = min_bytes
    fetcher._fetch_max_wait_ms = max_wait_ms
