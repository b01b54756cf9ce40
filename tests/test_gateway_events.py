"""POST /v1/events against the real broker: per-event results, records on the topic, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.codec import decode
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from tests.test_gateway_support import (
    KEYS,
    auth,
    decoded,
    event,
    records_on,
    running_gateway,
)

pytestmark = pytest.mark.kafka

JSON = {"content-type": "application/json"}


def _expected(sent: dict[str, object], source: str = "career-site") -> dict[str, object]:
    """What the record on the topic must decode to (JSON form -> Avro dict form)."""
    occurred = datetime.fromisoformat(str(sent["occurred_at"]))
    payload = {"page_type": None, "job_id": None, "content_id": None, "referrer": None}
    payload.update(sent["payload"])  # type: ignore[call-overload]
    return {
        **sent,
        "source": source,
        "occurred_at": occurred,
        "correlation_id": None,
        "payload": payload,
    }


def test_single_event_is_acknowledged_then_on_the_topic(kafka: KafkaSettings) -> None:
    sent = event(candidate_id="cand-single")
    before = datetime.now(UTC)
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", json=sent, headers=auth())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["results"] == [{"index": 0, "event_id": sent["event_id"], "status": "accepted"}]
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (1, 0, 0)
    assert response.headers["x-request-id"] == body["request_id"]
    [record] = records_on(kafka, ACTIVITY)
    assert record.key == b"cand-single"
    assert dict(record.headers)["nurture-source"] == b"career-site"
    [found] = decoded(kafka, ACTIVITY)
    received_at = found.record.pop("received_at")
    assert before <= received_at <= datetime.now(UTC)
    assert found.subject == "activity_event"
    assert found.record == _expected(sent)


def test_batch_lists_each_outcome_and_publishes_exactly_the_valid_events(
    kafka: KafkaSettings,
) -> None:
    valid = [event(candidate_id=f"cand-{i}") for i in range(5)]
    missing_url = event(payload={"page_type": "job"})
    unknown_type = event(type="teleported")
    items = [valid[0], missing_url, valid[1], "not an object", valid[2], unknown_type, *valid[3:]]
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", json={"events": items}, headers=auth())
    assert response.status_code == 202, response.text
    body = response.json()
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "accepted"),
        (3, "rejected"),
        (4, "accepted"),
        (5, "rejected"),
        (6, "accepted"),
        (7, "accepted"),
    ]
    assert body["results"][1]["errors"] == [
        {"field": "payload.url", "reason": "field required (it has no default)"}
    ]
    assert body["results"][1]["event_id"] == missing_url["event_id"]
    assert body["results"][3] == {
        "index": 3,
        "event_id": None,
        "status": "rejected",
        "errors": [{"field": "(event)", "reason": "must be a JSON object"}],
    }
    assert body["results"][5]["errors"][0]["field"] == "type"
    assert (body["accepted"], body["rejected"]) == (5, 3)
    on_topic = {d.record["event_id"]: d.record for d in decoded(kafka, ACTIVITY)}
    assert set(on_topic) == {e["event_id"] for e in valid}
    for sent in valid:
        record = dict(on_topic[sent["event_id"]])
        record.pop("received_at")
        assert record == _expected(sent)


@pytest.mark.parametrize("producer", ["aiokafka", "kafka-python"])
def test_both_kafka_clients_publish_with_acks(kafka: KafkaSettings, producer: str) -> None:
    sent = [event(candidate_id=f"cand-{i}") for i in range(20)]
    with running_gateway(kafka, producer=producer) as client:
        response = client.post("/v1/events", json={"events": sent}, headers=auth())
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 20
    records = records_on(kafka, ACTIVITY)
    assert sorted(decode_id(r.value) for r in records) == sorted(e["event_id"] for e in sent)
    by_key: dict[bytes, set[int]] = {}
    for record in records:
        by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(partitions) == 1 for partitions in by_key.values())


def decode_id(value: bytes) -> str:
    return str(decode(value).record["event_id"])


def test_every_event_rejected_is_422_and_nothing_is_published(kafka: KafkaSettings) -> None:
    items = [event(occurred_at="yesterday"), event(candidate_id="")]
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", json={"events": items}, headers=auth())
    assert response.status_code == 422
    errors = [r["errors"][0]["field"] for r in response.json()["results"]]
    assert errors == ["occurred_at", "candidate_id"]
    assert records_on(kafka, ACTIVITY) == []


def test_model_validation_also_checks_urls(kafka: KafkaSettings) -> None:
    bad_url = event(payload={"url": "not a url"})
    with running_gateway(kafka, validation="model") as client:
        response = client.post("/v1/events", json=bad_url, headers=auth())
    assert response.status_code == 422
    assert response.json()["results"][0]["errors"][0]["field"] == "payload.url"


def test_a_retry_within_the_window_is_a_duplicate_and_not_republished(
    kafka: KafkaSettings,
) -> None:
    first = event()
    other = event()
    with running_gateway(kafka) as client:
        assert client.post("/v1/events", json=first, headers=auth()).status_code == 202
        retry = client.post("/v1/events", json={"events": [first, other, other]}, headers=auth())
    assert retry.status_code == 202
    assert [r["status"] for r in retry.json()["results"]] == ["duplicate", "accepted", "duplicate"]
    assert retry.json()["duplicates"] == 2
    ids = [d.record["event_id"] for d in decoded(kafka, ACTIVITY)]
    assert sorted(ids) == sorted([first["event_id"], other["event_id"]])


def test_without_a_window_a_retry_is_published_again(kafka: KafkaSettings) -> None:
    sent = event()
    with running_gateway(kafka, dedup_window_s=0) as client:
        for _ in range(2):
            response = client.post("/v1/events", json=sent, headers=auth())
            assert response.json()["results"][0]["status"] == "accepted"
    assert len(records_on(kafka, ACTIVITY)) == 2


def test_an_event_without_id_gets_one_and_it_is_reported(kafka: KafkaSettings) -> None:
    sent = event()
    del sent["event_id"]
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", json=sent, headers=auth())
    [result] = response.json()["results"]
    assert result["status"] == "accepted" and len(result["event_id"]) == 36
    assert decoded(kafka, ACTIVITY)[0].record["event_id"] == result["event_id"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "error"),
    [
        (b'{"event_id": ', JSON, 400, "malformed_request"),
        (b"", JSON, 400, "malformed_request"),
        (b"[1, 2]", JSON, 400, "malformed_request"),
        (b'{"events": {"a": 1}}', JSON, 400, "malformed_request"),
        (b'{"events": []}', JSON, 400, "malformed_request"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (
            b"{}",
            {"content-type": "application/json; charset=latin-1"},
            415,
            "unsupported_media_type",
        ),
        (b"{}", {}, 415, "unsupported_media_type"),
    ],
)
def test_request_level_refusals_say_why(
    kafka: KafkaSettings, content: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    with running_gateway(kafka, wait_ready=False) as client:
        response = client.post("/v1/events", content=content, headers={**auth(), **headers})
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"events": [event() for _ in range(6)]}, "max_batch_events"),
        (event(payload={"url": "https://x.example/" + "a" * 3000}), "max_event_bytes"),
        (
            {"events": [event(), event(payload={"url": "https://x/" + "a" * 3000})]},
            "max_event_bytes",
        ),
        (
            {"events": [event(payload={"url": "https://x/" + "a" * 1800}) for _ in range(5)]},
            "max_batch_bytes",
        ),
    ],
)
def test_over_a_limit_is_413_naming_the_limit_and_nothing_is_published(
    kafka: KafkaSettings, body: object, limit: str
) -> None:
    limits: dict[str, Any] = {
        "max_event_bytes": 2048,
        "max_batch_bytes": 8192,
        "max_batch_events": 5,
    }
    with running_gateway(kafka, **limits) as client:
        response = client.post("/v1/events", content=orjson.dumps(body), headers={**auth(), **JSON})
    assert response.status_code == 413, response.text
    assert response.json()["limit"] == limit
    assert response.json()["maximum"] == limits[limit]
    assert records_on(kafka, ACTIVITY) == []


def test_missing_or_unknown_key_is_401(kafka: KafkaSettings) -> None:
    with running_gateway(kafka, wait_ready=False) as client:
        missing = client.post("/v1/events", json=event())
        unknown = client.post("/v1/events", json=event(), headers={"Authorization": "Bearer nope"})
        basic = client.post("/v1/events", json=event(), headers={"Authorization": "Basic eDp5"})
    for response in (missing, unknown, basic):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert KEYS["career-site"] not in response.text


def test_claiming_another_source_is_403_and_nothing_is_published(kafka: KafkaSettings) -> None:
    items = [event(), event(source="ats")]
    with running_gateway(kafka) as client:
        response = client.post("/v1/events", json={"events": items}, headers=auth("career-site"))
        own = client.post("/v1/events", json=event(source="ats"), headers=auth("ats"))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_source"
    assert "event #1" in response.json()["detail"]
    assert own.status_code == 202
    assert [d.record["source"] for d in decoded(kafka, ACTIVITY)] == ["ats"]


def test_rate_limit_is_429_with_retry_after_per_key(kafka: KafkaSettings) -> None:
    limits: dict[str, Any] = {
        "rate_limit_events_per_s": 0.5,
        "rate_limit_burst": 5,
        "max_batch_events": 5,
    }
    batch = {"events": [event() for _ in range(5)]}
    with running_gateway(kafka, **limits) as client:
        assert client.post("/v1/events", json=batch, headers=auth()).status_code == 202
        limited = client.post("/v1/events", json={"events": [event()]}, headers=auth())
        other_key = client.post("/v1/events", json=event(source="ats"), headers=auth("ats"))
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["retry_after_s"] == int(limited.headers["retry-after"])
    assert other_key.status_code == 202
    assert len(records_on(kafka, ACTIVITY)) == 6


def test_rate_limits_are_per_key_and_configurable_per_source(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    second_key = "career-site-second-key-0123456789"
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"career-site={second_key}\n", encoding="utf-8")
    limits: dict[str, Any] = {
        "api_keys_file": keys_file,
        "rate_limits": "career-site=0.5/5",
        "max_batch_events": 5,
        "rate_limit_burst": 5,
    }
    batch = {"events": [event() for _ in range(5)]}
    second = {"Authorization": f"Bearer {second_key}"}
    with running_gateway(kafka, **limits) as client:
        first_full = client.post("/v1/events", json=batch, headers=auth())
        limited = client.post("/v1/events", json=event(), headers=auth())
        another_batch = {"events": [event() for _ in range(5)]}
        other_key_same_source = client.post("/v1/events", json=another_batch, headers=second)
        other_key_limited = client.put(
            "/v1/candidates/cand-1/profile", json={"source": "career-site"}, headers=second
        )
    assert first_full.status_code == 202
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"  # 1 event at 0.5/s, the source's own limit
    assert "'career-site'" in limited.json()["detail"]
    assert other_key_same_source.status_code == 202
    assert other_key_limited.status_code == 429  # profiles and erasures cost 1 event too
    assert len(records_on(kafka, ACTIVITY)) == 10


def test_metrics_count_by_type_and_source_without_ids(kafka: KafkaSettings) -> None:
    sent = [event(), event(type="email_opened", payload={}), event(candidate_id="")]
    with running_gateway(kafka) as client:
        client.post("/v1/events", json={"events": sent}, headers=auth())
        client.post("/v1/events", json=sent[0], headers=auth())
        text = client.get("/metrics").text
    assert 'nurture_events_received_total{source="career-site",type="page_viewed"} 3.0' in text
    assert 'nurture_events_accepted_total{source="career-site",type="email_opened"} 1.0' in text
    rejected = 'nurture_events_rejected_total{reason="invalid",source="career-site",type='
    assert rejected + '"page_viewed"} 1.0' in text
    assert 'nurture_gateway_duplicate_events_total{source="career-site"} 1.0' in text
    assert 'route="/v1/events"' in text and "nurture_gateway_request_duration_seconds" in text
    for item in sent:
        assert item["event_id"] not in text and "cand-1" not in text
