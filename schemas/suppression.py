"""The suppression record: which channels a candidate unsubscribed from (compacted
``candidate.suppression``).

The stream worker writes it whenever an ``unsubscribed`` event changes the candidate's
unsubscribes; delivery reads it at send time, so an action decided before the unsubscribe and
still waiting (quiet hours, retries) is not sent. Event times only, no PII.
Mirrors ``schemas/registry/candidate_suppression/v<current>.avsc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from schemas.modelbase import AvroModel, NonEmptyStr, UtcDatetime
from schemas.modelbase import validate_model as _validate


class CandidateSuppression(AvroModel):
    """Consent channel (``all`` covers every channel) -> when the candidate unsubscribed."""

    candidate_id: NonEmptyStr
    unsubscribed: dict[NonEmptyStr, UtcDatetime] = Field(default_factory=dict)
    updated_at: UtcDatetime


def parse_candidate_suppression(obj: Mapping[str, Any]) -> CandidateSuppression:
    """A suppression record from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(CandidateSuppression, obj)
