"""Pydantic models of every record of the contract, in one import.

One source of truth: the Avro schemas in ``schemas/registry/`` define the records; these models
are written by hand to mirror the *current* version of each subject (readable, typed code) and
``tests/test_schemas_models.py`` proves, for every record type, that field names, optionality,
types and defaults agree with the schema. Change a schema and that test tells you what to change
here. The models add what Avro cannot express: non-empty ids, aware UTC datetimes, known event
types and channels, IANA time zones, BCP 47 locales, http(s) URLs.

Use them at the edges (SDK, gateway, tests); stream workers use the dicts of :mod:`schemas.codec`.
``parse_*`` functions accept the JSON form (RFC 3339 timestamps) and the Avro dict form and raise
:class:`schemas.errors.ValidationError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.actions import (
    CHANNELS,
    OUTCOMES,
    ContentChoice,
    DeliveryOutcome,
    NurtureAction,
    parse_delivery_outcome,
    parse_nurture_action,
)
from schemas.engagement import EngagementRecord, parse_engagement_record
from schemas.events import (
    EVENT_TYPES,
    PAYLOAD_MODELS,
    ActivityEvent,
    ApplicationSubmitted,
    CandidateHired,
    CareerEventAttended,
    CareerEventRegistered,
    ContentDownloaded,
    EmailClicked,
    EmailOpened,
    EmailReplied,
    EventPayload,
    EventType,
    JobAlertSubscribed,
    PageViewed,
    TalentPoolJoined,
    Unsubscribed,
    parse_event,
)
from schemas.modelbase import AvroModel, validate_model
from schemas.profile import (
    CandidateProfile,
    Consent,
    Contact,
    ErasureRequest,
    SealedContact,
    parse_erasure_request,
    parse_profile,
)
from schemas.suppression import CandidateSuppression, parse_candidate_suppression

__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "MODEL_BY_SUBJECT",
    "OUTCOMES",
    "PAYLOAD_MODELS",
    "ActivityEvent",
    "ApplicationSubmitted",
    "AvroModel",
    "CandidateHired",
    "CandidateProfile",
    "CandidateSuppression",
    "CareerEventAttended",
    "CareerEventRegistered",
    "Consent",
    "Contact",
    "ContentChoice",
    "ContentDownloaded",
    "DeliveryOutcome",
    "EmailClicked",
    "EmailOpened",
    "EmailReplied",
    "EngagementRecord",
    "ErasureRequest",
    "EventPayload",
    "EventType",
    "JobAlertSubscribed",
    "NurtureAction",
    "PageViewed",
    "SealedContact",
    "TalentPoolJoined",
    "Unsubscribed",
    "parse_candidate_suppression",
    "parse_delivery_outcome",
    "parse_engagement_record",
    "parse_erasure_request",
    "parse_event",
    "parse_nurture_action",
    "parse_profile",
    "parse_record",
]

#: The model of each subject's current version.
MODEL_BY_SUBJECT: dict[str, type[AvroModel]] = {
    "activity_event": ActivityEvent,
    "candidate_profile": CandidateProfile,
    "erasure_request": ErasureRequest,
    "engagement_record": EngagementRecord,
    "nurture_action": NurtureAction,
    "delivery_outcome": DeliveryOutcome,
    "candidate_suppression": CandidateSuppression,
}


def parse_record(subject: str, obj: Mapping[str, Any]) -> AvroModel:
    """The model of ``subject`` validated from ``obj`` (e.g. a ``Decoded.record``)."""
    try:
        model = MODEL_BY_SUBJECT[subject]
    except KeyError:
        known = ", ".join(MODEL_BY_SUBJECT)
        raise ValueError(f"unknown subject {subject!r}; known: {known}") from None
    return validate_model(model, obj)
