"""A faust Monitor without per-event bookkeeping.

faust's default Monitor updates counters and deques on every message and stream event (four
calls per event); the worker's own metrics (streams/worker/metrics.py) count per batch instead. This
subclass keeps everything per commit, rebalance and web request (``tp_committed_offsets`` feeds
the liveness check) and drops the per-event hooks.
"""

from __future__ import annotations

from typing import Any

from faust.sensors import Monitor


class LeanMonitor(Monitor):
    """faust's Monitor minus the per-message and per-event hooks."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        return None

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None
