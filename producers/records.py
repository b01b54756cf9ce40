"""Validation and encoding of records before they are sent: key, value and headers.

Pure (no Kafka client), so the SDK, the HTTP gateway and ``nurture publish`` share it and a
batch can be checked whole before any of it is published.

How records are validated (measured with ``nurture bench sdk``, see producers/bench.py):

* Activity events given as **models** were validated by pydantic when built; they are encoded.
* Activity events given as **dicts** take the codec's fast path by default
  (``dict_validation="codec"``): Avro checks every type, the codec checks required ids and the
  event type, refuses unknown fields and naive datetimes. ISO-8601 strings in timestamp fields
  are parsed first, so the JSON form is accepted too. The pydantic model adds URL and blank-text
  checks at roughly twice the cost per event; ``dict_validation="model"`` turns it on.
* Activity events are written by a compiled writer (:mod:`schemas.fast_writer`, about half the
  cost of fastavro) that makes the same checks; whatever it is unsure of goes to the codec,
  which encodes it after all or raises the ValidationError naming the field.
* Profiles and erasure requests always go through their pydantic models (contact details, time
  zones and locales deserve the full check, and they are rare next to activity events).
  A profile's contact is sealed with the candidate's data key (:mod:`producers.pii`).

Values are framed by the :class:`~schemas.schema_registry.codec.WireCodec` given (default:
Avro single-object encoding): in Schema Registry mode its encoders write the Confluent header
(``00`` + the registry's schema id), looked up once when the encoder is built, so an
unregistered schema or a registry that does not answer stops the process at start-up, never a
record. The compiled writers take the header from the encoder: the same cost in both framings.

The ``content-type`` header stays ``application/vnd.nurture.avro`` in both framings. It says
the value is the contract's Avro; which framing is told by the value's first byte (``00``
Confluent, ``C3`` single-object), as every reader here and Confluent's own deserializers do
(Confluent's serializers write no header at all, and no media type for Confluent-framed Avro
is registered or in common use). A header naming the framing could also contradict the bytes
once a record is copied into the other framing (topic import, replay).

Missing ``event_id`` (a uuid4) and ``received_at`` (now, UTC) are filled in; the caller's
mapping is never modified.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from schemas.codec import default_codec
from schemas.errors import ValidationError
from schemas.fast_writer.builders import activity_writer
from schemas.models import (
    ActivityEvent,
    CandidateProfile,
    ErasureRequest,
    parse_erasure_request,
    parse_event,
    parse_profile,
)
from schemas.privacy.contact import seal_profile
from schemas.privacy.data_keys import DataKey
from schemas.schema_registry.codec import SingleObjectCodec, WireCodec
from schemas.subject_codec import ActivityCodec
from schemas.timestamps import to_micros
from schemas.topics import ACTIVITY, PROFILE

#: Value of the ``content-type`` header of every record the SDK writes.
CONTENT_TYPE = b"application/vnd.nurture.avro"
CONTENT_TYPE_HEADER = "content-type"
SOURCE_HEADER = "nurture-source"

DictValidation = Literal["codec", "model"]
EventInput = ActivityEvent | Mapping[str, Any]
ProfileInput = CandidateProfile | Mapping[str, Any]


class Encoded(NamedTuple):
    """A validated record, ready for ``KafkaProducer.send``."""

    #: Declared topic name without prefix (``candidate.activity`` or ``candidate.profile``).
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    #: The subject of the value (``activity_event``, ``candidate_profile``, ...).
    subject: str
    #: The record's own id: event_id, request_id, or candidate_id for profiles (for logs).
    record_id: str


_HEADERS: dict[str, list[tuple[str, bytes]]] = {}
#: ``(key, value, headers, event_id)`` of an activity event.
EventParts = tuple[bytes, bytes, list[tuple[str, bytes]], str]


def headers_for(source: str) -> list[tuple[str, bytes]]:
    """The headers of a record from ``source`` (shared lists: do not modify them)."""
    headers = _HEADERS.get(source)
    if headers is None:
        headers = [(CONTENT_TYPE_HEADER, CONTENT_TYPE), (SOURCE_HEADER, source.encode())]
        if len(_HEADERS) < 1024:  # sources are a handful of systems; never grow unbounded
            _HEADERS[source] = headers
    return headers


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RecordEncoder:
    """Turns events, profiles and erasure requests into :class:`Encoded` records.

    ``now`` supplies ``received_at`` for events that lack one (injectable for tests). ``wire``
    frames the values (default: single-object; :func:`producers.wire.producer_wire_codec` gives
    the process's). Its encoders are built here: in Schema Registry mode that raises
    :class:`~schemas.errors.ConfigError` for a schema not registered, or
    :class:`~schemas.errors.SchemaRegistryUnavailableError` when the registry does not answer.
    """

    def __init__(
        self,
        *,
        dict_validation: DictValidation = "codec",
        now: Callable[[], datetime] = _utc_now,
        wire: WireCodec | None = None,
    ) -> None:
        self.dict_validation = dict_validation
        self._now = now
        if wire is None:
            wire = SingleObjectCodec(default_codec())
        #: The framing the values are written in (``single-object`` or ``confluent``).
        self.framing = wire.framing
        activity = wire.encoder(ACTIVITY, "activity_event")
        assert isinstance(activity, ActivityCodec)
        self._activity = activity
        self._activity_fast = activity_writer(self._activity)
        # The dict fast path writes the caller's mapping as it is (no copy, no time parsing):
        # it fills received_at and checks the skew itself, and declines anything else.
        self._dict_fast = (
            activity_writer(self._activity, max_future_skew_us=_MAX_FUTURE_SKEW_US)
            if dict_validation == "codec"
            else None
        )
        self._profile = wire.encoder(PROFILE, "candidate_profile")
        self._erasure = wire.encoder(PROFILE, "erasure_request")
        self._payload_times = _payload_timestamp_fields(self._activity.reader.schema)

    def event(self, event: EventInput) -> Encoded:
        """Validate and encode an activity event; :class:`ValidationError` names the field."""
        key, value, headers, event_id = self.event_parts(event)
        return Encoded(ACTIVITY, key, value, headers, "activity_event", event_id)

    def event_parts(self, event: EventInput) -> EventParts:
        """:meth:`event` as a plain ``(key, value, headers, event_id)`` (the SDK's hot path)."""
        if type(event) is dict and self._dict_fast is not None:
            event_id = event.get("event_id")
            if event_id:  # the common case: the caller's dict, written as it is
                value = self._dict_fast.encode(event, self._now_micros())
                if value is not None:  # so candidate_id and source are non-empty strings
                    source = event["source"]
                    headers = _HEADERS.get(source) or headers_for(source)
                    return event["candidate_id"].encode(), value, headers, event_id
        if type(event) is dict or isinstance(event, Mapping):  # dicts first: the common case
            record = self._filled(event)
            if self.dict_validation == "model":
                record = parse_event(record).to_avro()
            else:
                self._parse_times(record)
        elif isinstance(event, ActivityEvent):
            record = event.to_avro()
            if record["received_at"] is None:
                record["received_at"] = self._now()
        else:
            raise ValidationError("(record)", f"expected a mapping, got {type(event).__name__}")
        _refuse_future(record)
        # The compiled writer takes the common case; anything it is unsure of goes to the codec,
        # which encodes it after all or raises the ValidationError naming the field.
        value = self._activity_fast.encode(record)
        if value is None:
            value = self._activity.encode(record)
        key = record["candidate_id"].encode()
        return key, value, headers_for(record["source"]), record["event_id"]

    def profile_model(self, profile: ProfileInput) -> CandidateProfile:
        """Validate (pydantic) a candidate profile upsert, its contact given in the clear."""
        model = (
            profile if isinstance(profile, CandidateProfile) else parse_profile(_mapping(profile))
        )
        if model.sealed_contact is not None:
            raise ValidationError(
                "sealed_contact",
                "is filled by the producer when it seals the contact; leave it out",
            )
        return model

    def profile(self, profile: ProfileInput, key: DataKey) -> Encoded:
        """Validate and encode a profile upsert with its contact sealed under ``key``.

        Callers get the key (and its record, which must reach Kafka first) from
        :class:`producers.pii.ProfileSealer`; no profile leaves here with PII in the clear.
        """
        model = self.profile_model(profile)
        if key.candidate_id != model.candidate_id:
            raise ValueError("the data key belongs to another candidate")
        record = seal_profile(model.to_avro(), key)
        value = self._profile.encode(record)
        candidate_id = model.candidate_id
        headers = headers_for(model.source)
        return Encoded(
            PROFILE, candidate_id.encode(), value, headers, "candidate_profile", candidate_id
        )

    def erasure(self, request: ErasureRequest | Mapping[str, Any]) -> Encoded:
        """Validate and encode an erasure request (goes to the profile topic, same key)."""
        if isinstance(request, ErasureRequest):
            model = request
        else:
            data = dict(_mapping(request))
            data.setdefault("request_id", str(uuid.uuid4()))
            data.setdefault("requested_at", self._now())
            model = parse_erasure_request(data)
        value = self._erasure.encode(model.to_avro())
        key = model.candidate_id.encode()
        headers = headers_for(model.source)
        return Encoded(PROFILE, key, value, headers, "erasure_request", model.request_id)

    def _now_micros(self) -> int:
        if self._now is _utc_now:
            return time.time_ns() // 1000
        return to_micros(self._now())

    def _filled(self, event: Mapping[str, Any]) -> dict[str, Any]:
        record = dict(event)
        if record.get("event_id") is None:
            record["event_id"] = str(uuid.uuid4())
        if record.get("received_at") is None:
            record["received_at"] = self._now()
        return record

    def _parse_times(self, record: dict[str, Any]) -> None:
        """Parse ISO-8601 strings in timestamp fields in place (the JSON form of a record)."""
        for name in ("occurred_at", "received_at"):
            value = record.get(name)
            if type(value) is not datetime:
                record[name] = _timestamp(value, name, record)
        fields = self._payload_times.get(record.get("type"))  # type: ignore[arg-type]
        payload = record.get("payload")
        if fields and isinstance(payload, Mapping):
            payload = dict(payload)
            for name in fields:
                value = payload.get(name)
                if value is not None and type(value) is not datetime:
                    payload[name] = _timestamp(value, f"payload.{name}", record)
            record["payload"] = payload


#: How far ``occurred_at`` may lie after ``received_at`` (clock skew between systems). An event
#: dated further ahead would move the candidate's scoring horizon and drop their history.
MAX_FUTURE_SKEW = timedelta(hours=1)
_MAX_FUTURE_SKEW_US = MAX_FUTURE_SKEW // timedelta(microseconds=1)


def _refuse_future(record: Mapping[str, Any]) -> None:
    occurred, received = record.get("occurred_at"), record.get("received_at")
    if not (isinstance(occurred, datetime) and isinstance(received, datetime)):
        return
    if occurred.tzinfo is None or received.tzinfo is None:
        return  # the codec rejects naive times with its own message
    if occurred - received > MAX_FUTURE_SKEW:
        raise ValidationError(
            "occurred_at",
            f"lies {occurred - received} after received_at; at most {MAX_FUTURE_SKEW} of clock "
            "skew is accepted (future-dated events would distort scores)",
            event_id=record.get("event_id"),
        )


def _mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("(record)", f"expected a mapping, got {type(value).__name__}")
    return value


def _timestamp(value: Any, field: str, record: Mapping[str, Any]) -> datetime:
    if isinstance(value, datetime):
        return value
    event_id = record.get("event_id")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    elif value is None:
        raise ValidationError(field, "field required", event_id=event_id)
    raise ValidationError(
        field, "must be an RFC 3339 timestamp such as 2025-03-01T09:30:00Z", event_id=event_id
    )


def _payload_timestamp_fields(schema: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``{event type: payload fields holding a timestamp}`` read from the activity schema."""
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    found: dict[str, tuple[str, ...]] = {}
    for branch in payload["type"]:
        names = tuple(f["name"] for f in branch["fields"] if "timestamp-micros" in repr(f["type"]))
        if names:
            found[branch["event_type"]] = names
    return found
