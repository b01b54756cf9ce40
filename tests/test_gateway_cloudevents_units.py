"""CloudEvents binary mode without Content-Type, without a broker (issue #16, item 3).

The official SDK's HTTP helpers send an event without ``datacontenttype`` with no Content-Type
header; the gateway reads its body as JSON data. The parsing chain of ``POST /v1/events`` is
tested on its own, and the route through a real uvicorn server with a publisher that records
what it is given instead of sending it (tests/test_gateway_cloudevents.py has the broker tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from producers.gateway.cloud_events import Rejection, from_binary
from producers.gateway.errors import UnsupportedMediaTypeError
from producers.gateway.ingest import normalize
from producers.gateway.limits import Limits, body_kind, parse_json, split_events
from producers.gateway.publisher import LateOutcome, OutgoingRecord
from schemas.codec import decode
from schemas.errors import NurtureError
from schemas.settings import KafkaSettings
from tests.cloudevents_support import OCCURRED, SENDERS, BinarySender
from tests.test_gateway_support import auth, running_gateway

LIMITS = Limits(max_event_bytes=32_000, max_batch_bytes=500_000, max_batch_events=500)
DATA = {"url": "https://careers.example.com/jobs/7", "page_type": "job"}
CE_HEADERS = {"ce-specversion": "1.0", "ce-id": "e1", "ce-type": "page_viewed"}


def _parse(headers: dict[str, str], body: bytes) -> list[dict[str, Any] | Rejection]:
    """What ``POST /v1/events`` makes of a request before validation (routes.post_events)."""
    content_type = headers.get("content-type", "")
    ce_headers = {k.lower(): v for k, v in headers.items() if k.lower().startswith("ce-")}
    kind = body_kind(content_type, "ce-specversion" in ce_headers)
    items = split_events(parse_json(body), kind, len(body), LIMITS)
    return normalize(items, kind, "career-site", ce_headers, content_type)


@pytest.mark.parametrize("content_type", ["", None])
def test_binary_mode_without_content_type_is_json_data(content_type: str | None) -> None:
    assert body_kind(content_type, True) == "ce-binary"
    envelope = from_binary(CE_HEADERS, DATA, content_type)
    assert envelope == {"event_id": "e1", "type": "page_viewed", "payload": DATA}


def test_without_ce_headers_a_missing_content_type_is_still_415() -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        body_kind("", False)
    with pytest.raises(UnsupportedMediaTypeError):
        body_kind("text/plain", True)


def test_a_stray_ce_datacontenttype_header_does_not_stand_in_for_content_type() -> None:
    headers = {**CE_HEADERS, "ce-datacontenttype": "text/plain"}
    assert not isinstance(from_binary(headers, DATA, None), Rejection)
    refused = from_binary(CE_HEADERS, DATA, "text/plain")
    assert isinstance(refused, Rejection) and refused.field == "datacontenttype"


@pytest.mark.parametrize("sdk", sorted(SENDERS))
def test_the_sdks_binary_messages_without_datacontenttype_parse(sdk: str) -> None:
    headers, body = SENDERS[sdk]("ce-unit-1", DATA)
    assert "content-type" not in {name.lower() for name in headers}
    [envelope] = _parse(headers, body)
    assert isinstance(envelope, dict), envelope
    assert envelope["event_id"] == "ce-unit-1"
    assert envelope["candidate_id"] == "cand-ce"
    assert envelope["source"] == "career-site"
    assert envelope["payload"] == DATA


class RecordingPublisher:
    """Acknowledges every record at once and keeps it, so the route runs without Kafka."""

    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []

    async def publish(
        self, records: Sequence[OutgoingRecord], on_late: LateOutcome | None = None
    ) -> list[NurtureError | None]:
        self.records.extend(records)
        return [None] * len(records)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("sdk", sorted(SENDERS))
def test_the_route_accepts_the_sdks_binary_mode_without_content_type(sdk: str) -> None:
    send: BinarySender = SENDERS[sdk]
    event_id = f"ce-{uuid.uuid4().hex[:12]}"
    headers, body = send(event_id, DATA)
    publisher = RecordingPublisher()
    with running_gateway(KafkaSettings(topic_prefix="unit."), publisher=publisher) as client:
        response = client.post("/v1/events", content=body, headers={**headers, **auth()})
    assert response.status_code == 202, response.text
    assert response.json()["results"][0] == {"index": 0, "event_id": event_id, "status": "accepted"}
    [record] = publisher.records
    assert record.topic == "unit.candidate.activity"
    assert record.key == b"cand-ce"
    sent = decode(record.value).record
    assert sent["event_id"] == event_id
    assert sent["type"] == "page_viewed"
    assert sent["occurred_at"] == OCCURRED
    assert sent["payload"]["url"] == DATA["url"]
