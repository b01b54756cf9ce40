"""The engagement record: a candidate's score after each event (compacted ``candidate.engagement``).

Deterministic by design: every field derives from the events (event time, source offset), never
from the wall clock, so rebuilding the topic from ``candidate.activity`` gives identical records.
Mirrors ``schemas/registry/engagement_record/v<current>.avsc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from schemas.modelbase import AvroModel, Int32, Int64, NonEmptyStr, UtcDatetime
from schemas.modelbase import validate_model as _validate


class EngagementRecord(AvroModel):
    """Score, tier and the reasons for them, as of one event's time."""

    candidate_id: NonEmptyStr
    score: float
    tier: NonEmptyStr
    previous_tier: str | None = None
    as_of: UtcDatetime
    model_version: NonEmptyStr
    #: Score contribution per event type: why the score is what it is.
    contributions: dict[NonEmptyStr, float] = Field(default_factory=dict)
    last_event_id: NonEmptyStr
    last_event_type: NonEmptyStr
    last_activity_at: UtcDatetime
    source_partition: Int32
    source_offset: Int64


def parse_engagement_record(obj: Mapping[str, Any]) -> EngagementRecord:
    """An engagement record from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(EngagementRecord, obj)
