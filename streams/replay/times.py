"""Points in time on the command line: ISO 8601, a date, epoch milliseconds, or ``now``.

Kafka's record timestamps (and ``offsets_for_times``) are epoch milliseconds, so every time here
is turned into that. A time without a zone is read as UTC (never the machine's local time).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from streams.replay.errors import TimeFormatError

#: Epoch milliseconds below this are taken for seconds by mistake and refused (year 2001).
_MIN_EPOCH_MS = 1_000_000_000_000


def parse_time(text: str) -> int:
    """Epoch milliseconds of ``text``: ``2026-11-01``, ``2026-11-01T09:30:00Z``,
    ``2026-11-01T09:30+01:00``, ``1793000000000`` (epoch ms) or ``now``."""
    value = text.strip()
    if value.lower() == "now":
        return int(time.time() * 1000)
    if value.isdigit():
        millis = int(value)
        if millis < _MIN_EPOCH_MS:
            raise TimeFormatError(f"{text!r}: epoch times are milliseconds (13 digits)")
        return millis
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TimeFormatError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-01T09:30:00Z), a date, "
            "epoch milliseconds or 'now'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def format_time(millis: int) -> str:
    """ISO 8601 UTC of epoch milliseconds (for messages and summaries)."""
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="milliseconds")
