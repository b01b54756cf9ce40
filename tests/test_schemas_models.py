"""The pydantic models agree with the Avro schemas, and validate what Avro cannot."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.catalog import SUBJECTS, default_catalog
from schemas.codec import activity_codec, codec_for
from schemas.errors import ValidationError
from schemas.models import (
    EVENT_TYPES,
    MODEL_BY_SUBJECT,
    PAYLOAD_MODELS,
    ActivityEvent,
    AvroModel,
    Consent,
    EmailOpened,
    PageViewed,
    parse_delivery_outcome,
    parse_engagement_record,
    parse_erasure_request,
    parse_event,
    parse_nurture_action,
    parse_profile,
    parse_record,
)

# --- model <-> schema agreement -----------------------------------------------------------
# A "shape" is a small comparable description of a type: "string", "integer", "float",
# "boolean", "timestamp", ("array", shape), ("map", shape), ("optional", shape),
# ("record", name) and ("records", frozenset of names) for a union of records.

Shape = Any


def avro_shape(schema: Any, named: dict[str, Any]) -> Shape:
    if isinstance(schema, str) and schema in named:
        return ("record", named[schema]["name"])
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if "null" in schema:
            assert len(branches) == 1, f"optional unions hold one type: {schema}"
            return ("optional", avro_shape(branches[0], named))
        return ("records", frozenset(avro_shape(b, named)[1] for b in branches))
    if isinstance(schema, dict):
        if schema.get("logicalType") == "timestamp-micros":
            return "timestamp"
        kind = schema["type"]
        if kind == "record":
            named[schema["name"]] = schema
            return ("record", schema["name"])
        if kind == "array":
            return ("array", avro_shape(schema["items"], named))
        if kind == "map":
            return ("map", avro_shape(schema["values"], named))
        return avro_shape(kind, named)
    return {"string": "string", "int": "integer", "long": "integer", "double": "float",
            "float": "float", "boolean": "boolean"}[schema]  # fmt: skip


def model_shape(annotation: Any) -> Shape:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return model_shape(args[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) < len(args):
            assert len(members) == 1, f"optional fields hold one type: {annotation}"
            return ("optional", model_shape(members[0]))
        return ("records", frozenset(model_shape(m)[1] for m in members))
    if origin is typing.Literal:
        assert all(isinstance(a, str) for a in args)
        return "string"
    if origin is list:
        return ("array", model_shape(args[0]))
    if origin is dict:
        assert model_shape(args[0]) == "string", "map keys are strings"
        return ("map", model_shape(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("record", annotation.__name__)
    return {str: "string", int: "integer", float: "float", bool: "boolean",
            datetime: "timestamp"}[annotation]  # fmt: skip


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    """Every model class mentioned in an annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in nested_models(arg)]


def record_pairs() -> list[tuple[type[BaseModel], dict[str, Any]]]:
    """(model, Avro record schema) for every record of every subject's current version."""
    pairs = []
    for subject in SUBJECTS:
        named: dict[str, Any] = {}
        schema = default_catalog().subject(subject).current.schema
        todo: list[tuple[type[BaseModel], dict[str, Any]]] = [(MODEL_BY_SUBJECT[subject], schema)]
        while todo:
            model, record = todo.pop()
            pairs.append((model, record))
            for field in record["fields"]:
                avro_shape(field["type"], named)  # collects nested record schemas
                for nested in nested_models(model.model_fields[field["name"]].annotation):
                    todo.append((nested, named[nested.__name__]))
    return pairs


PAIRS = record_pairs()


def test_every_record_type_is_covered() -> None:
    names = {model.__name__ for model, _ in PAIRS}
    assert set(PAYLOAD_MODELS.values()) <= {model for model, _ in PAIRS}
    assert {"Contact", "Consent", "ContentChoice", "ActivityEvent", "CandidateProfile"} <= names
    # subjects + payloads + Contact, SealedContact, Consent, ContentChoice
    assert len(PAIRS) == 7 + 12 + 4


@pytest.mark.parametrize(("model", "record"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_mirrors_its_avro_record(model: type[BaseModel], record: dict[str, Any]) -> None:
    assert model.__name__ == record["name"]
    avro_fields = {f["name"]: f for f in record["fields"]}
    assert list(model.model_fields) == list(avro_fields), "same fields, same order"
    named: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        avro_field = avro_fields[name]
        assert model_shape(info.annotation) == avro_shape(avro_field["type"], named), name
        if "default" in avro_field:
            assert not info.is_required(), f"{name} has an Avro default"
            assert info.get_default(call_default_factory=True) == avro_field["default"], name
        else:
            assert info.is_required(), f"{name} has no Avro default, so the model requires it"


def test_payload_models_match_the_union_branches() -> None:
    schema = default_catalog().subject("activity_event").current.schema
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    branches = {b["event_type"]: b["name"] for b in payload["type"]}
    assert branches == {kind: model.__name__ for kind, model in PAYLOAD_MODELS.items()}
    assert activity_codec().event_types == EVENT_TYPES
    assert tuple(PAYLOAD_MODELS) == EVENT_TYPES


def test_the_model_agreement_check_can_fail() -> None:
    class Drifted(AvroModel):
        job_id: str
        application_id: int | None = None

    record = {"name": "Drifted", "fields": [{"name": "job_id", "type": "string"},
              {"name": "application_id", "type": ["null", "string"], "default": None}]}  # fmt: skip
    with pytest.raises(AssertionError, match="application_id"):
        test_model_mirrors_its_avro_record(Drifted, record)


# --- validation errors name the field -------------------------------------------------------

EVENT = {
    "event_id": "evt-1",
    "type": "application_submitted",
    "candidate_id": "cand-1",
    "occurred_at": "2025-03-01T09:30:00Z",
    "source": "ats",
    "payload": {"job_id": "4711"},
}


def _error(parse: Any, obj: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse(obj)
    return caught.value


def test_a_missing_payload_field_is_named_with_its_path() -> None:
    error = _error(parse_event, {**EVENT, "payload": {}})
    assert str(error) == "payload.job_id: field required (event evt-1)"
    assert (error.field, error.reason, error.event_id) == (
        "payload.job_id",
        "field required",
        "evt-1",
    )


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"occurred_at": "2025-03-01T09:30:00"}, "occurred_at", "must be timezone-aware"),
        ({"occurred_at": 1740821400}, "occurred_at", "not a number"),
        ({"occurred_at": "yesterday"}, "occurred_at", "input should be a valid datetime"),
        # No such instant in UTC: once a 500 from the gateway (schemathesis found it).
        ({"occurred_at": "0001-01-01T00:00:01+00:01"}, "occurred_at", "out of range once"),
        ({"occurred_at": "9999-12-31T23:59:59-00:01"}, "occurred_at", "out of range once"),
        # Valid in UTC, but New York's or Tokyo's local time overflowed in the worker's guards.
        ({"occurred_at": "0001-01-01T00:00:30Z"}, "occurred_at", "from 0001-01-02 to 9999-12-30"),
        ({"occurred_at": "9999-12-31T12:00:00Z"}, "occurred_at", "from 0001-01-02 to 9999-12-30"),
        ({"type": "application_sent"}, "type", "input should be 'application_submitted'"),
        ({"event_id": "  "}, "event_id", "must not be empty or blank"),
        ({"candidate_id": None}, "candidate_id", "input should be a valid string"),
        ({"email": "ada@example.com"}, "email", "unknown field"),
        (
            {"type": "page_viewed", "payload": {"url": "careers/jobs/1"}},
            "payload.url",
            "absolute http(s) URL",
        ),
        (
            {
                "type": "career_event_attended",
                "payload": {"career_event_id": "e", "attended_minutes": -5},
            },
            "payload.attended_minutes",
            "greater than or equal to 0",
        ),
        (
            {"type": "unsubscribed", "payload": {"channel": "E-Mail"}},
            "payload.channel",
            "lowercase name",
        ),
        ({"payload": {"job_id": "4711", "jobid": "1"}}, "payload.jobid", "unknown field"),
    ],
)
def test_event_errors_name_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    error = _error(parse_event, {**EVENT, **changes})
    assert error.field == field
    assert reason in error.reason


def test_several_problems_are_all_mentioned() -> None:
    error = _error(parse_event, {**EVENT, "source": "", "payload": {}})
    assert error.field == "source"
    assert error.reason.endswith("(and 1 more: payload.job_id)")


def test_a_payload_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ValueError, match="is a EmailOpened payload, but type is 'page_viewed'"):
        ActivityEvent(
            event_id="e", type="page_viewed", candidate_id="c", source="s",
            occurred_at=datetime(2025, 3, 1, tzinfo=UTC), payload=EmailOpened(),
        )  # fmt: skip


def test_same_shaped_payloads_get_the_model_of_their_type() -> None:
    opened = parse_event({**EVENT, "type": "email_opened", "payload": {"action_id": "a"}})
    replied = parse_event({**EVENT, "type": "email_replied", "payload": {"action_id": "a"}})
    assert type(opened.payload).__name__ == "EmailOpened"
    assert type(replied.payload).__name__ == "EmailReplied"


def test_timestamps_are_normalised_to_utc() -> None:
    event = parse_event({**EVENT, "occurred_at": "2025-03-01T10:30:00+01:00"})
    assert event.occurred_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC
    assert event.model_dump(mode="json")["occurred_at"] == "2025-03-01T09:30:00Z"


PROFILE = {
    "candidate_id": "cand-1",
    "contact": {"email": "ada@example.com"},
    "updated_at": "2025-03-01T09:30:00Z",
    "source": "crm",
}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"time_zone": "Europe/Atlantis"}, "time_zone", "IANA time zone"),
        ({"time_zone": "utc"}, "time_zone", "IANA time zone"),
        ({"locale": "en_GB"}, "locale", "use '-', not '_'"),
        ({"locale": "english"}, "locale", "BCP 47"),
        ({"contact": {}}, "contact", "needs an email or a phone"),
        ({"contact": {"email": "ada"}}, "contact.email", "e-mail address"),
        ({"contact": {"phone": "0151 1234567"}}, "contact.phone", "E.164"),
        (
            {"consents": {"E-Mail": {"granted": True, "granted_at": "2025-01-01T00:00:00Z"}}},
            "consents.E-Mail",
            "key must be a lowercase name",
        ),
        (
            {
                "consents": {
                    "email": {
                        "granted": True,
                        "granted_at": "2025-01-02T00:00:00Z",
                        "withdrawn_at": "2025-01-01T00:00:00Z",
                    }
                }
            },
            "consents.email.withdrawn_at",
            "must not be before granted_at",
        ),
        ({"interests": ["ai", ""]}, "interests[1]", "must not be empty"),
    ],
)
def test_profile_errors_name_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    error = _error(parse_profile, {**PROFILE, **changes})
    assert (error.field, reason in error.reason) == (field, True), error


def test_profile_defaults_and_locale_case() -> None:
    profile = parse_profile({**PROFILE, "locale": "EN-latn-gb"})
    assert (profile.locale, profile.time_zone, profile.consents) == ("en-Latn-GB", "UTC", {})


def test_consent_is_active_between_grant_and_expiry_or_withdrawal() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    consent = Consent(granted=True, granted_at=t, expires_at=t.replace(year=2026),
                      withdrawn_at=t.replace(month=6))  # fmt: skip
    assert not consent.is_active(t.replace(year=2024))
    assert consent.is_active(t) and consent.is_active(t.replace(month=5))
    assert not consent.is_active(t.replace(month=6))
    assert not Consent(granted=False, granted_at=t).is_active(t.replace(month=2))
    profile = parse_profile({**PROFILE, "consents": {"email": consent.to_avro()}})
    assert profile.consent_active("email", t.replace(month=3))
    assert not profile.consent_active("sms", t.replace(month=3))


ACTION = {
    "action_id": "act-1", "candidate_id": "cand-1", "campaign_id": "grad", "campaign_version": 1,
    "step_id": "s1", "channel": "email", "trigger_event_id": "evt-1",
    "decided_at": "2025-03-01T09:30:00Z", "template_id": "welcome", "model_version": "m1",
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"template_id": None}, "template_id", "required for channel 'email'"),
        ({"channel": "ad_audience"}, "audience", "required for channel 'ad_audience'"),
        ({"channel": "ad_audience", "audience": "grads"}, "audience_op", "required for channel"),
        (
            {"channel": "ad_audience", "audience": "grads", "audience_op": "append"},
            "audience_op",
            "input should be 'add' or 'remove'",
        ),
        ({"channel": "webhook"}, "endpoint", "required for channel 'webhook'"),
        ({"channel": "pigeon"}, "channel", "input should be 'email'"),
        (
            {
                "content": [
                    {
                        "content_id": "c",
                        "kind": "career_event",
                        "title": "Open day",
                        "url": "https://example.com/e",
                    }
                ]
            },
            "content[0].starts_at",
            "required for a career_event",
        ),
        ({"campaign_version": 2**31}, "campaign_version", "less than or equal to 2147483647"),
    ],
)
def test_action_errors_name_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    error = _error(parse_nurture_action, {**ACTION, **changes})
    assert (error.field, reason in error.reason) == (field, True), error


def test_other_channels_need_no_extra_fields() -> None:
    action = parse_nurture_action({**ACTION, "channel": "recruiter_alert", "template_id": None})
    assert action.replay is False and action.params == {} and action.content == []


def test_outcome_engagement_and_erasure_errors_name_the_field() -> None:
    outcome = {
        "action_id": "a",
        "candidate_id": "c",
        "campaign_id": "g",
        "channel": "email",
        "outcome": "bounced",
        "attempt": 1,
        "occurred_at": "2025-03-01T09:30:00Z",
    }
    assert _error(parse_delivery_outcome, outcome).field == "outcome"
    assert (
        _error(parse_delivery_outcome, {**outcome, "outcome": "sent", "attempt": 0}).field
        == "attempt"
    )
    engagement = {
        "candidate_id": "c",
        "score": float("nan"),
        "tier": "warm",
        "as_of": "2025-03-01T09:30:00Z",
        "model_version": "m",
        "last_event_id": "e",
        "last_event_type": "page_viewed",
        "last_activity_at": "2025-03-01T09:30:00Z",
        "source_partition": 0,
        "source_offset": 1,
    }
    assert _error(parse_engagement_record, engagement).field == "score"
    assert (
        _error(parse_erasure_request, {"request_id": "r", "candidate_id": "c", "source": "s"}).field
        == "requested_at"
    )


def test_to_avro_output_is_what_the_codec_takes() -> None:
    event = parse_event(
        {**EVENT, "type": "page_viewed", "payload": {"url": "https://example.com/j"}}
    )
    record = event.to_avro()
    assert isinstance(record["payload"], dict) and isinstance(event.payload, PageViewed)
    assert (
        ActivityEvent.from_avro(
            codec_for("activity_event").decode(codec_for("activity_event").encode(record))
        )
        == event
    )


def test_parse_record_picks_the_subjects_model() -> None:
    assert parse_record("activity_event", EVENT) == parse_event(EVENT)
    with pytest.raises(ValueError, match="unknown subject"):
        parse_record("activity", EVENT)
