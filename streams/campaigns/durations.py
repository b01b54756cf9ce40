"""Durations in campaign files (``7d``, ``12h``, ``1d12h``, ``90m``) and the engine's time units.

The engine counts time in epoch microseconds (UTC), like the scoring model and the Avro
``timestamp-micros`` fields, so a duration is a number of microseconds. Units are explicit on
purpose: a bare ``7`` could mean days or seconds, so it is refused.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

MINUTE_US = 60 * 1_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
DURATION_HINT = "must be a duration like 7d (units d, h, m; e.g. 0d, 12h, 1d12h)"


def parse_duration(text: str) -> int:
    """Microseconds of ``text`` (``7d``, ``12h``, ``30m``, ``1d12h``); ValueError otherwise."""
    match = _DURATION.match(text.strip().lower()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(DURATION_HINT)
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return days * DAY_US + hours * HOUR_US + minutes * MINUTE_US


def format_duration(micros: int) -> str:
    """The shortest ``parse_duration`` text of a whole number of minutes (``0d`` for zero)."""
    days, rest = divmod(micros, DAY_US)
    hours, rest = divmod(rest, HOUR_US)
    minutes = rest // MINUTE_US
    text = "".join(
        f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value
    )
    return text or "0d"


def _to_micros(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError(DURATION_HINT)
    return parse_duration(value)


#: A duration field of a campaign file, validated into microseconds.
Duration = Annotated[int, BeforeValidator(_to_micros)]
