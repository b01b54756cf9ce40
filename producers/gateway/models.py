"""The gateway's request and response shapes, as pydantic models for the OpenAPI document.

Responses are built as plain dicts and serialised with orjson on the hot path; these models
describe them (and a test checks real responses against the document). Request models are not
used to parse requests either (the codec validates each event, see :mod:`.ingest`): they exist so
``/openapi.json`` documents exactly what the gateway accepts, one envelope variant per event type
with its payload record (``type`` picks the variant).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.events import EVENT_TYPES, PAYLOAD_MODELS
from schemas.profile import Consent, Contact

EventStatus = Literal["accepted", "duplicate", "rejected", "unavailable", "failed"]

_Id = Annotated[str, Field(min_length=1)]


class FieldError(BaseModel):
    """Why a record was refused: the field at fault (``payload.url``) and the reason."""

    field: str
    reason: str


class EventResult(BaseModel):
    """The outcome of one event of the request, in request order.

    ``accepted``: Kafka acknowledged it (acks=all). ``duplicate``: its event_id was accepted
    earlier within the de-duplication window; not published again. ``rejected``: it breaks the
    contract (see ``errors``); fix it, do not retry as is. ``unavailable``: Kafka did not
    acknowledge it in time; retry it (same event_id). ``failed``: Kafka refused it for good.
    """

    index: int = Field(description="0-based position of the event in the request.")
    event_id: str | None = Field(description="The event's id (assigned when it had none).")
    status: EventStatus
    errors: list[FieldError] | None = Field(None, description="Set when status is rejected.")
    detail: str | None = Field(None, description="Set when status is unavailable or failed.")


class IngestResponse(BaseModel):
    """What happened to every event of a ``POST /v1/events`` request."""

    request_id: str
    accepted: int
    duplicates: int
    rejected: int
    unavailable: int
    failed: int
    results: list[EventResult]


class ErrorResponse(BaseModel):
    """A refusal of the whole request; nothing of it was published."""

    error: str = Field(description="Machine-readable reason, e.g. payload_too_large.")
    detail: str
    limit: str | None = Field(None, description="413: the exceeded limit's setting name.")
    maximum: int | None = Field(None, description="413: that limit's value.")
    retry_after_s: int | None = Field(None, description="429/503: also in Retry-After.")
    errors: list[FieldError] | None = Field(None, description="422: the fields at fault.")


class RecordAccepted(BaseModel):
    """A profile upsert or erasure request that Kafka acknowledged (acks=all)."""

    request_id: str = Field(description="Id of this HTTP request (also X-Request-ID).")
    candidate_id: str
    record: Literal["candidate_profile", "erasure_request"]
    record_id: str = Field(description="The erasure request_id, or the candidate_id.")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]


# --- request bodies (documentation only) ----------------------------------------------------

_DOCS = ConfigDict(extra="forbid", frozen=True)


def _envelope(event_type: str) -> type[BaseModel]:
    payload_model = PAYLOAD_MODELS[event_type]
    return create_model(
        f"{payload_model.__name__}Event",
        __config__=_DOCS,
        __doc__=f"A {event_type} activity event (payload: {payload_model.__name__}).",
        event_id=(_Id | None, Field(None, description="Idempotency key; a uuid4 if absent.")),
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        candidate_id=(_Id, ...),
        occurred_at=(datetime, Field(description="RFC 3339 with offset, e.g. ...Z.")),
        source=(_Id | None, Field(None, description="Defaults to the API key's source.")),
        correlation_id=(str | None, None),
        payload=(payload_model, ...),
    )


_ENVELOPES = tuple(_envelope(event_type) for event_type in EVENT_TYPES)

#: One activity event in its JSON form; ``type`` selects the variant and its payload record.
EventIn: Any = Annotated[Union[_ENVELOPES], Field(discriminator="type")]  # noqa: UP007

#: Up to ``max_batch_events`` events in one request; each gets its own result.
EventBatch: type[BaseModel] = create_model(
    "EventBatch",
    __config__=_DOCS,
    __doc__="Up to max_batch_events activity events; each gets its own result.",
    events=(list[EventIn], Field(min_length=1)),
)


class CloudEventIn(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode, mapped onto the activity envelope."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: _Id = Field(description="-> event_id")
    type: Literal[EVENT_TYPES] = Field(description="-> type")  # type: ignore[valid-type]
    source: _Id = Field(description="-> source (must be the API key's source)")
    subject: _Id = Field(description="-> candidate_id")
    time: datetime = Field(description="-> occurred_at")
    datacontenttype: Literal["application/json"] | None = None
    correlationid: str | None = Field(None, description="extension -> correlation_id")
    data: dict[str, Any] = Field(description="-> payload (the event type's payload record)")


class ProfileIn(BaseModel):
    """A candidate profile upsert in JSON form (see docs/events.md); PII lives here only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_id: _Id | None = Field(None, description="Must equal the path's id if given.")
    contact: Contact
    locale: str | None = None
    time_zone: str = "UTC"
    interests: list[str] = Field(default_factory=list)
    job_families: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    consents: dict[str, Consent] = Field(default_factory=dict)
    updated_at: datetime | None = Field(None, description="Defaults to the time received.")
    source: _Id | None = Field(None, description="Defaults to the API key's source.")
