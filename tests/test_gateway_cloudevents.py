"""CloudEvents 1.0 over HTTP, sent with the official ``cloudevents`` SDK as the client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from tests.cloudevents_support import SENDERS
from tests.test_gateway_support import auth, decoded, records_on, running_gateway

pytestmark = pytest.mark.kafka

OCCURRED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def cloud_event(**attributes: Any) -> CloudEvent:
    data = attributes.pop("data", {"url": "https://careers.example.com/jobs/7"})
    base = {
        "id": f"ce-{uuid.uuid4().hex[:12]}",
        "type": "page_viewed",
        "source": "career-site",
        "subject": "cand-ce",
        "time": OCCURRED,
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes={**base, **attributes}, data=data)


def _on_topic(kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
    return {d.record["event_id"]: d.record for d in decoded(kafka, ACTIVITY)}


def test_structured_mode_maps_onto_the_envelope(kafka: KafkaSettings) -> None:
    sent = cloud_event(correlationid="session-9")
    message = to_structured_event(sent)
    assert message.headers["content-type"] == "application/cloudevents+json"
    with running_gateway(kafka) as client:
        response = client.post(
            "/v1/events", content=message.body, headers={**message.headers, **auth()}
        )
    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["event_id"] == sent.get_id()
    record = _on_topic(kafka)[sent.get_id()]
    assert record["type"] == "page_viewed"
    assert record["candidate_id"] == "cand-ce"
    assert record["occurred_at"] == OCCURRED
    assert record["source"] == "career-site"
    assert record["correlation_id"] == "session-9"
    assert record["payload"]["url"] == "https://careers.example.com/jobs/7"
    assert records_on(kafka, ACTIVITY)[0].key == b"cand-ce"


def test_binary_mode_reads_ce_headers_and_data_body(kafka: KafkaSettings) -> None:
    sent = cloud_event(
        type="email_clicked", data={"url": "https://x.example/a", "campaign_id": "c1"}
    )
    message = to_binary_event(sent)
    assert message.headers["ce-id"] == sent.get_id()
    with running_gateway(kafka) as client:
        response = client.post(
            "/v1/events", content=message.body, headers={**message.headers, **auth()}
        )
    assert response.status_code == 202, response.text
    record = _on_topic(kafka)[sent.get_id()]
    assert record["type"] == "email_clicked"
    assert record["payload"]["campaign_id"] == "c1"
    assert record["occurred_at"] == OCCURRED


@pytest.mark.parametrize("sdk", sorted(SENDERS))
def test_binary_mode_without_datacontenttype_has_no_content_type_and_is_json_data(
    kafka: KafkaSettings, sdk: str
) -> None:
    event_id = f"ce-{uuid.uuid4().hex[:12]}"
    headers, body = SENDERS[sdk](event_id, {"url": "https://x.example/b", "page_type": "job"})
    assert "content-type" not in {name.lower() for name in headers}
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", content=body, headers={**headers, **auth()})
    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["status"] == "accepted"
    record = _on_topic(kafka)[event_id]
    assert record["type"] == "page_viewed"
    assert record["candidate_id"] == "cand-ce"
    assert record["payload"]["page_type"] == "job"
    assert record["occurred_at"] == OCCURRED


def test_batch_mode_gives_per_event_results_named_in_cloudevents_terms(
    kafka: KafkaSettings,
) -> None:
    good = [cloud_event(subject=f"cand-{i}") for i in range(3)]
    no_subject = cloud_event()
    attributes = dict(no_subject.get_attributes())
    del attributes["subject"]
    no_subject = CloudEvent(attributes=attributes, data=no_subject.get_data())
    bad_data = cloud_event(data={"page_type": "job"})
    events = [good[0], no_subject, good[1], bad_data, good[2]]
    body = b"[" + b",".join(JSONFormat().write(e) for e in events) + b"]"
    headers = {"content-type": "application/cloudevents-batch+json", **auth()}
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", content=body, headers=headers)
        again = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "accepted", "rejected", "accepted", "rejected", "accepted"
    ]  # fmt: skip
    assert results[1]["errors"][0]["field"] == "subject"
    assert results[3]["errors"][0]["field"] == "data.url"
    assert [r["status"] for r in again.json()["results"]][::2] == ["duplicate"] * 3
    assert set(_on_topic(kafka)) == {e.get_id() for e in good}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"datacontenttype": "text/plain"}, "datacontenttype"),
    ],
)
def test_structured_mode_refuses_what_it_cannot_map(
    kafka: KafkaSettings, change: dict[str, str], field: str
) -> None:
    body = orjson.loads(JSONFormat().write(cloud_event()))
    body.update(change)
    with running_gateway(kafka) as client:
        response = client.post(
            "/v1/events",
            json=body,
            headers={"content-type": "application/cloudevents+json", **auth()},
        )
    assert response.status_code == 422
    assert response.json()["results"][0]["errors"][0]["field"] == field
    assert records_on(kafka, ACTIVITY) == []


def test_a_cloudevent_from_another_source_is_403(kafka: KafkaSettings) -> None:
    message = to_structured_event(cloud_event(source="https://careers.example.com"))
    with running_gateway(kafka) as client:
        response = client.post(
            "/v1/events", content=message.body, headers={**message.headers, **auth()}
        )
    assert response.status_code == 403
    assert records_on(kafka, ACTIVITY) == []
