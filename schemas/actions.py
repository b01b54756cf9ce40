"""Nurture actions (decisions to reach out) and their delivery outcomes.

``NurtureAction.action_id`` is deterministic (computed by the decision logic from its inputs), so
a replayed or retried decision has the same id and delivery stays idempotent; ``replay=True``
marks actions produced by a rebuild, which delivery ignores. Channel, content kind, audience
operation and outcome are plain strings in Avro (new values must not break old readers) and
``Literal`` types here, so the edges reject typos.

Mirrors ``schemas/registry/{nurture_action,delivery_outcome}/v<current>.avsc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from schemas.modelbase import AvroModel, HttpUrl, Int32, NonEmptyStr, UtcDatetime
from schemas.modelbase import validate_model as _validate

ActionChannel = Literal["email", "career_event_invite", "ad_audience", "recruiter_alert", "webhook"]
CHANNELS: tuple[str, ...] = get_args(ActionChannel)
ContentKind = Literal["blog_post", "career_event", "job_opening"]
AudienceOp = Literal["add", "remove"]
Outcome = Literal["sent", "suppressed", "failed", "dead_lettered"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)

#: Fields an action of a channel cannot be delivered without.
REQUIRED_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    "email": ("template_id",),
    "ad_audience": ("audience", "audience_op"),
    "webhook": ("endpoint",),
}


class ContentChoice(AvroModel):
    """A content item picked for an action; career events need ``starts_at``."""

    content_id: NonEmptyStr
    kind: ContentKind
    title: NonEmptyStr
    url: HttpUrl
    starts_at: UtcDatetime | None = Field(default=None, validate_default=True)

    @field_validator("starts_at")
    @classmethod
    def _career_event_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None and info.data.get("kind") == "career_event":
            raise ValueError("required for a career_event")
        return value


def _optional(default: Any = None) -> Any:
    """A field checked even when left out (its requirement depends on ``channel``)."""
    return Field(default=default, validate_default=True)


class NurtureAction(AvroModel):
    """A decision to contact a candidate on a channel (topic ``nurture.action``)."""

    action_id: NonEmptyStr
    candidate_id: NonEmptyStr
    campaign_id: NonEmptyStr
    campaign_version: Int32
    step_id: NonEmptyStr
    channel: ActionChannel
    trigger_event_id: NonEmptyStr
    decided_at: UtcDatetime
    not_before: UtcDatetime | None = None
    template_id: str | None = _optional()
    content: list[ContentChoice] = Field(default_factory=list)
    audience: str | None = _optional()
    audience_op: AudienceOp | None = _optional()
    endpoint: str | None = _optional()
    params: dict[str, str] = Field(default_factory=dict)
    replay: bool = False
    model_version: NonEmptyStr

    @field_validator("template_id", "audience", "audience_op", "endpoint")
    @classmethod
    def _channel_needs(cls, value: str | None, info: ValidationInfo) -> str | None:
        needed = REQUIRED_BY_CHANNEL.get(info.data.get("channel", ""), ())
        if not value and info.field_name in needed:
            raise ValueError(f"required for channel {info.data['channel']!r}")
        return value


class DeliveryOutcome(AvroModel):
    """What happened when delivering an action (topic ``nurture.delivery``); never PII."""

    action_id: NonEmptyStr
    candidate_id: NonEmptyStr
    campaign_id: NonEmptyStr
    channel: ActionChannel
    outcome: Outcome
    reason: str | None = None
    attempt: Annotated[int, Field(ge=1, le=2**31 - 1)]
    occurred_at: UtcDatetime
    detail: str | None = None


def parse_nurture_action(obj: Mapping[str, Any]) -> NurtureAction:
    """A nurture action from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(NurtureAction, obj)


def parse_delivery_outcome(obj: Mapping[str, Any]) -> DeliveryOutcome:
    """A delivery outcome from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(DeliveryOutcome, obj)
