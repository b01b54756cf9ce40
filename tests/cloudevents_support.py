"""Binary-mode CloudEvents as the official ``cloudevents`` SDK's HTTP helpers send them (no tests).

Both of the SDK's APIs are covered: the core bindings (``cloudevents.core``) and the v1 HTTP
helpers (``cloudevents.v1``, the ``cloudevents.http`` / ``cloudevents.conversion`` API of the 1.x
releases). An event without ``datacontenttype`` is sent without a Content-Type header by both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as CoreCloudEvent
from cloudevents.v1.conversion import to_binary
from cloudevents.v1.http import CloudEvent as V1CloudEvent

OCCURRED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

#: Attributes of a page_viewed event without ``datacontenttype``, but for its ``id``.
ATTRIBUTES: dict[str, Any] = {
    "type": "page_viewed",
    "source": "career-site",
    "subject": "cand-ce",
    "time": OCCURRED,
}

#: headers and body of an HTTP request carrying the event ``id`` with ``data`` in binary mode.
BinarySender = Callable[[str, dict[str, Any]], tuple[dict[str, str], bytes]]


def core_binary(event_id: str, data: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """``cloudevents.core.bindings.http.to_binary_event`` of a v1.0 event."""
    event = CoreCloudEvent(
        attributes={"specversion": "1.0", "id": event_id, **ATTRIBUTES}, data=data
    )
    message = to_binary_event(event)
    return dict(message.headers), message.body


def v1_binary(event_id: str, data: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """``cloudevents.v1.conversion.to_binary`` of a ``cloudevents.v1.http.CloudEvent``."""
    attributes = {**ATTRIBUTES, "id": event_id, "time": OCCURRED.isoformat()}
    headers, body = to_binary(V1CloudEvent(attributes, data))
    return dict(headers), body


SENDERS: dict[str, BinarySender] = {"core": core_binary, "v1": v1_binary}
