"""CloudEvents 1.0 over HTTP, mapped onto the activity event envelope.

=====================  ===================  ==========================================
CloudEvents attribute  envelope field       note
=====================  ===================  ==========================================
``id``                 ``event_id``         the idempotency key
``type``               ``type``             an event type of the contract, as is
``subject``            ``candidate_id``     required here (optional in CloudEvents)
``time``               ``occurred_at``      required here (optional in CloudEvents)
``source``             ``source``           must be the API key's source system
``correlationid``      ``correlation_id``   extension attribute, optional
``data``               ``payload``          JSON object; ``data_base64`` is refused
=====================  ===================  ==========================================

``specversion`` must be ``1.0`` and ``datacontenttype``, when given, a JSON media type. Other
extension attributes are ignored. Structured mode is ``application/cloudevents+json`` (one event)
or ``application/cloudevents-batch+json`` (a JSON array); binary mode puts the attributes into
``ce-*`` headers (percent-encoded) and the data into the body, whose Content-Type is the
``datacontenttype``: a JSON type, or no Content-Type at all for an event without
``datacontenttype`` (its data is then read as JSON). Errors name the CloudEvents attribute
(``subject``, ``data.url``), not the envelope field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote

SPEC_VERSION = "1.0"
HEADER_PREFIX = "ce-"

_TO_ENVELOPE = {
    "id": "event_id",
    "type": "type",
    "subject": "candidate_id",
    "time": "occurred_at",
    "source": "source",
    "correlationid": "correlation_id",
}
_TO_CE = {envelope: attribute for attribute, envelope in _TO_ENVELOPE.items()}


class Rejection(NamedTuple):
    """An event refused before validation: the attribute at fault and why."""

    field: str
    reason: str
    event_id: str | None = None


def is_json_media_type(value: str) -> bool:
    kind = value.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def from_structured(event: Any) -> dict[str, Any] | Rejection:
    """The envelope of a structured-mode CloudEvent (a parsed JSON object)."""
    if not isinstance(event, dict):
        return Rejection("(event)", "must be a JSON object (a CloudEvent)")
    event_id = event.get("id") if isinstance(event.get("id"), str) else None
    if "data_base64" in event:
        return Rejection("data_base64", "binary data is not supported; send JSON data", event_id)
    return _envelope(event, event.get("data"), event_id)


def from_binary(
    headers: Mapping[str, str], data: Any, content_type: str | None
) -> dict[str, Any] | Rejection:
    """The envelope of a binary-mode CloudEvent: ``ce-*`` headers plus the JSON body as data.

    ``content_type`` (the Content-Type header) is the event's ``datacontenttype``; when it is
    empty or None the event has none and its data is read as JSON.
    """
    attributes: dict[str, Any] = {
        name[len(HEADER_PREFIX) :]: unquote(value)
        for name, value in headers.items()
        if name.lower().startswith(HEADER_PREFIX)
    }
    # Binary mode carries datacontenttype only as Content-Type; a ce-datacontenttype is no header
    # of the spec and is ignored rather than let it stand in for a missing Content-Type.
    attributes.pop("datacontenttype", None)
    if content_type:
        attributes["datacontenttype"] = content_type
    return _envelope(attributes, data, attributes.get("id"))


def _envelope(
    attributes: Mapping[str, Any], data: Any, event_id: str | None
) -> dict[str, Any] | Rejection:
    version = attributes.get("specversion")
    if version != SPEC_VERSION:
        return Rejection("specversion", f"must be {SPEC_VERSION!r}", event_id)
    content_type = attributes.get("datacontenttype")
    if content_type is not None and not (
        isinstance(content_type, str) and is_json_media_type(content_type)
    ):
        return Rejection("datacontenttype", "must be application/json (JSON data)", event_id)
    if data is None:
        return Rejection("data", "field required (the event's payload object)", event_id)
    envelope = {
        field: attributes[attribute]
        for attribute, field in _TO_ENVELOPE.items()
        if attribute in attributes
    }
    envelope["payload"] = data
    return envelope


def attribute_of(field: str) -> str:
    """The CloudEvents name of an envelope field path: ``payload.url`` -> ``data.url``."""
    head, dot, rest = field.partition(".")
    if head == "payload":
        return f"data{dot}{rest}"
    return _TO_CE.get(head, head) + dot + rest
