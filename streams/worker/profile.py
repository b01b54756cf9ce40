"""Profiles in the candidate row: the non-PII fields the campaign logic will need.

``candidate.profile`` carries two subjects under the candidate key: a profile (kept) or an
erasure request (the row is deleted, a marker stays: docs/worker.md, "Erasure").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.timestamps import to_micros
from streams.worker.rows import PROFILE, PROFILE_FIELDS, Row

PROFILE_SUBJECT = "candidate_profile"
ERASURE_SUBJECT = "erasure_request"


def profile_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a decoded profile the row keeps, JSON-safe (timestamps as epoch µs)."""
    return {name: _json_safe(record.get(name)) for name in PROFILE_FIELDS}


def with_profile(row: Row, record: dict[str, Any]) -> Row:
    """``row`` with its profile part replaced by the one in ``record`` (other parts kept)."""
    new_row = dict(row)
    new_row[PROFILE] = profile_fields(record)
    return new_row


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value
