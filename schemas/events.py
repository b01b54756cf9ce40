"""Activity events: the envelope and one payload model per event type.

Mirrors ``schemas/registry/activity_event/v<current>.avsc`` (the source of truth); a test proves
the two agree field by field. The envelope's ``type`` selects the payload model (a discriminated
union): the tag is in the envelope, not in the payload, so the envelope hands it to the payload's
discriminator under a private key (see ``_tag_payload``) and the payload drops it again.

Activity events never carry an e-mail address or a name: PII lives only in the candidate profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from schemas.modelbase import AvroModel, HttpUrl, Int32, NonEmptyStr, SnakeName, UtcDatetime
from schemas.modelbase import validate_model as _validate

EventType = Literal[
    "application_submitted",
    "page_viewed",
    "email_opened",
    "email_clicked",
    "email_replied",
    "career_event_registered",
    "career_event_attended",
    "content_downloaded",
    "job_alert_subscribed",
    "talent_pool_joined",
    "unsubscribed",
    "candidate_hired",
]
#: Every event type, in the order of the Avro payload union.
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

_TAG_KEY = "__event_type__"


class EventPayload(AvroModel):
    """Base of the payload models; ``event_type`` is the ``type`` it belongs to."""

    event_type: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _drop_tag(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and _TAG_KEY in data:
            return {key: value for key, value in data.items() if key != _TAG_KEY}
        return data


class ApplicationSubmitted(EventPayload):
    event_type: ClassVar[str] = "application_submitted"
    job_id: NonEmptyStr
    application_id: str | None = None
    job_family: str | None = None
    location: str | None = None


class PageViewed(EventPayload):
    event_type: ClassVar[str] = "page_viewed"
    url: HttpUrl
    page_type: str | None = None
    job_id: str | None = None
    content_id: str | None = None
    referrer: str | None = None


class EmailOpened(EventPayload):
    event_type: ClassVar[str] = "email_opened"
    action_id: str | None = None
    campaign_id: str | None = None


class EmailClicked(EventPayload):
    event_type: ClassVar[str] = "email_clicked"
    action_id: str | None = None
    campaign_id: str | None = None
    url: HttpUrl
    content_id: str | None = None


class EmailReplied(EventPayload):
    event_type: ClassVar[str] = "email_replied"
    action_id: str | None = None
    campaign_id: str | None = None


class CareerEventRegistered(EventPayload):
    event_type: ClassVar[str] = "career_event_registered"
    career_event_id: NonEmptyStr
    starts_at: UtcDatetime | None = None


class CareerEventAttended(EventPayload):
    event_type: ClassVar[str] = "career_event_attended"
    career_event_id: NonEmptyStr
    attended_minutes: Int32 | None = None


class ContentDownloaded(EventPayload):
    event_type: ClassVar[str] = "content_downloaded"
    content_id: NonEmptyStr
    url: HttpUrl | None = None


class JobAlertSubscribed(EventPayload):
    event_type: ClassVar[str] = "job_alert_subscribed"
    alert_id: str | None = None
    job_families: list[NonEmptyStr] = Field(default_factory=list)
    locations: list[NonEmptyStr] = Field(default_factory=list)


class TalentPoolJoined(EventPayload):
    event_type: ClassVar[str] = "talent_pool_joined"
    pool_id: NonEmptyStr


class Unsubscribed(EventPayload):
    event_type: ClassVar[str] = "unsubscribed"
    channel: SnakeName = "email"
    campaign_id: str | None = None
    action_id: str | None = None
    reason: str | None = None


class CandidateHired(EventPayload):
    event_type: ClassVar[str] = "candidate_hired"
    job_id: NonEmptyStr
    application_id: str | None = None


#: The payload model of each event type.
PAYLOAD_MODELS: dict[str, type[EventPayload]] = {
    model.event_type: model
    for model in (
        ApplicationSubmitted, PageViewed, EmailOpened, EmailClicked, EmailReplied,
        CareerEventRegistered, CareerEventAttended, ContentDownloaded, JobAlertSubscribed,
        TalentPoolJoined, Unsubscribed, CandidateHired,
    )
}  # fmt: skip


def _payload_tag(value: Any) -> str | None:
    """The discriminator: the envelope's type (injected under ``_TAG_KEY``) or the model's."""
    if isinstance(value, EventPayload):
        return value.event_type
    if isinstance(value, Mapping):
        tag = value.get(_TAG_KEY)
        return tag if isinstance(tag, str) else None
    return None


Payload = Annotated[
    Annotated[ApplicationSubmitted, Tag("application_submitted")]
    | Annotated[PageViewed, Tag("page_viewed")]
    | Annotated[EmailOpened, Tag("email_opened")]
    | Annotated[EmailClicked, Tag("email_clicked")]
    | Annotated[EmailReplied, Tag("email_replied")]
    | Annotated[CareerEventRegistered, Tag("career_event_registered")]
    | Annotated[CareerEventAttended, Tag("career_event_attended")]
    | Annotated[ContentDownloaded, Tag("content_downloaded")]
    | Annotated[JobAlertSubscribed, Tag("job_alert_subscribed")]
    | Annotated[TalentPoolJoined, Tag("talent_pool_joined")]
    | Annotated[Unsubscribed, Tag("unsubscribed")]
    | Annotated[CandidateHired, Tag("candidate_hired")],
    Discriminator(
        _payload_tag,
        custom_error_type="payload_type",
        custom_error_message="no payload model for this event type (see 'type')",
    ),
]


class ActivityEvent(AvroModel):
    """Something a candidate did (topic ``candidate.activity``, key ``candidate_id``)."""

    hidden_location_tags: ClassVar[frozenset[str]] = frozenset(EVENT_TYPES)

    event_id: NonEmptyStr
    type: EventType
    candidate_id: NonEmptyStr
    occurred_at: UtcDatetime
    source: NonEmptyStr
    received_at: UtcDatetime | None = None
    correlation_id: str | None = None
    payload: Payload

    @model_validator(mode="before")
    @classmethod
    def _tag_payload(cls, data: Any) -> Any:
        """Hand ``type`` to the payload's discriminator (the payload itself has no type field)."""
        if isinstance(data, Mapping):
            payload = data.get("payload")
            if isinstance(payload, Mapping) and _TAG_KEY not in payload:
                return {**data, "payload": {**payload, _TAG_KEY: data.get("type")}}
        return data

    @field_validator("payload")
    @classmethod
    def _payload_matches_type(cls, payload: EventPayload, info: Any) -> EventPayload:
        kind = info.data.get("type")
        if kind is not None and payload.event_type != kind:
            raise ValueError(
                f"is a {type(payload).__name__} payload, but type is {kind!r} "
                f"(expects {PAYLOAD_MODELS[kind].__name__})"
            )
        return payload


def parse_event(obj: Mapping[str, Any]) -> ActivityEvent:
    """An activity event from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(ActivityEvent, obj)
