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

from streams.worker import aiokafka_seam, faust_seam

log = logging.getLogger(__name__)


async def tune_fetcher(
    app: Any, min_bytes: int, max_wait_ms: int, timeout_s: float = 120.0
) -> None:
    """Set the fetch sizes on faust's aiokafka fetcher once it exists (it is built at start)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not aiokafka_seam.set_fetch_sizes(
        faust_seam.aiokafka_consumer(app), min_bytes, max_wait_ms
    ):
        if asyncio.get_running_loop().time() > deadline:
            log.warning("consumer fetcher not found after %ss: fetch sizes not tuned", timeout_s)
            return
        await asyncio.sleep(0.05)
