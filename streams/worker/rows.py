"""The candidate row of the worker's table: everything the worker knows about one candidate.

One row per candidate (table key = candidate_id), so one changelog record carries every part
of it together and a crash can never leave the parts out of step. A row is a plain dict::

    {"engagement": EngagementState.to_dict() | None, "profile": {...} | None, ...}

Later issues add keys (e.g. ``"campaigns"``); readers must keep keys they do not know. Rows are
stored as orjson bytes (the table's ``value_serializer`` is ``raw``): fast, and JSON-safe state
is what :meth:`EngagementState.to_dict` returns anyway.
"""

from __future__ import annotations

from typing import Any

import orjson

Row = dict[str, Any]

ENGAGEMENT = "engagement"
PROFILE = "profile"
#: The campaign engine's state of the candidate (``Decision.state``, streams/campaigns).
CAMPAIGNS = "campaigns"

#: Profile fields the worker keeps (no PII: contact details stay in candidate.profile only).
PROFILE_FIELDS = (
    "locale",
    "time_zone",
    "interests",
    "job_families",
    "locations",
    "consents",
    "updated_at",
)


def load_row(data: bytes | None) -> Row:
    """The row stored as ``data`` (an empty row for a new candidate)."""
    if not data:
        return {}
    row: Row = orjson.loads(data)
    return row


def dump_row(row: Row) -> bytes:
    """The bytes the table stores for ``row``."""
    return orjson.dumps(row)
