"""The producer SDK against the real broker: keys, headers, validation, bulk, profile topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from producers import NurtureProducer, ProducerSettings
from producers.records import CONTENT_TYPE
from schemas.codec import decode, decode_as
from schemas.errors import ValidationError
from schemas.models import parse_event
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from tests.kafka_helpers import read_all, wait_until

pytestmark = pytest.mark.kafka

FAST = ProducerSettings(linger_ms=1, delivery_timeout_s=20, max_block_ms=10_000)


def page_view(candidate_id: str = "cand-0001", **overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "page_viewed",
        "candidate_id": candidate_id,
        "occurred_at": "2025-03-01T09:30:12.345678Z",
        "source": "career-site",
        "payload": {"url": "https://careers.example.test/jobs/4711", "page_type": "job"},
    }
    event.update(overrides)
    return event


def profile(candidate_id: str = "cand-0001") -> dict[str, Any]:
    return {
        "candidate_id": candidate_id,
        "contact": {"email": "anna.schmidt.1@example.test", "first_name": "Anna"},
        "locale": "de-DE",
        "time_zone": "Europe/Berlin",
        "consents": {"email": {"granted": True, "granted_at": "2025-01-01T00:00:00Z"}},
        "updated_at": "2025-03-01T09:00:00Z",
        "source": "ats",
    }


@pytest.fixture
def producer(kafka: KafkaSettings) -> Iterator[NurtureProducer]:
    with NurtureProducer(kafka, FAST) as sdk:
        yield sdk


def records_on(kafka: KafkaSettings, topic: str, count: int) -> list[Any]:
    name = kafka.topic(topic)
    return wait_until(
        lambda: found if len(found := read_all(kafka, name)) >= count else None,
        what=f"{count} records on {name}",
    )


def test_event_lands_keyed_by_candidate_with_headers(
    kafka: KafkaSettings, producer: NurtureProducer
) -> None:
    event = page_view("cand-keyed")
    meta = producer.send(event).get(timeout=20)
    assert meta.topic == kafka.topic(ACTIVITY)

    [record] = records_on(kafka, ACTIVITY, 1)
    assert record.key == b"cand-keyed"
    headers = dict(record.headers)
    assert headers["content-type"] == CONTENT_TYPE
    assert headers["nurture-source"] == b"career-site"
    decoded = decode_as("activity_event", record.value)
    expected = parse_event(event).to_avro()
    expected["received_at"] = decoded["received_at"]
    assert decoded == expected
    assert (record.partition, record.offset) == (meta.partition, meta.offset)


def test_missing_event_id_and_received_at_are_filled(
    kafka: KafkaSettings, producer: NurtureProducer
) -> None:
    event = page_view()
    del event["event_id"]
    before = datetime.now(UTC)
    delivery = producer.send(event)
    delivery.get(timeout=20)
    assert "event_id" not in event  # the caller's dict is left alone

    [record] = records_on(kafka, ACTIVITY, 1)
    decoded = decode_as("activity_event", record.value)
    assert decoded["event_id"] == delivery.event_id
    assert uuid.UUID(decoded["event_id"]).version == 4
    assert before - timedelta(seconds=1) <= decoded["received_at"] <= datetime.now(UTC)


def test_model_input_is_sent_as_is(kafka: KafkaSettings, producer: NurtureProducer) -> None:
    received = datetime(2025, 3, 1, 9, 31, tzinfo=UTC)
    model = parse_event(page_view("cand-model", received_at=received.isoformat()))
    producer.send(model).get(timeout=20)

    [record] = records_on(kafka, ACTIVITY, 1)
    assert decode_as("activity_event", record.value) == model.to_avro()


@pytest.mark.parametrize("validation", ["codec", "model"])
@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("candidate_id"), "candidate_id"),
        (lambda e: e.update(type="page_teleported"), "type"),
        (lambda e: e["payload"].pop("url"), "payload.url"),
        (lambda e: e.update(occurred_at="yesterday"), "occurred_at"),
        (lambda e: e.update(occurred_at="2025-03-01T09:30:00"), "occurred_at"),
        (lambda e: e.update(mood="curious"), "mood"),
    ],
)
def test_invalid_event_names_the_field_and_sends_nothing(
    kafka: KafkaSettings, validation: str, mutate: Any, field: str
) -> None:
    event = page_view()
    mutate(event)
    with NurtureProducer(kafka, FAST, dict_validation=validation) as sdk:  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as caught:
            sdk.send(event)
        sdk.send(page_view("cand-marker")).get(timeout=20)
    assert caught.value.field == field
    records = read_all(kafka, kafka.topic(ACTIVITY))
    assert [r.key for r in records] == [b"cand-marker"]


def test_send_many_counts_and_sends_only_valid(
    kafka: KafkaSettings, producer: NurtureProducer
) -> None:
    events: list[Any] = [page_view(f"cand-{i}") for i in range(5)]
    events[1]["payload"] = {}
    events[3] = "not an event"
    result = producer.send_many(events)

    assert result.accepted == 3
    assert [(r.index, r.field) for r in result.rejected] == [(1, "payload.url"), (3, "(record)")]
    assert all(d.done() for d in result.deliveries)
    keys = sorted(r.key for r in records_on(kafka, ACTIVITY, 3))
    assert keys == [b"cand-0", b"cand-2", b"cand-4"]


def test_send_many_without_waiting_returns_deliveries(producer: NurtureProducer) -> None:
    result = producer.send_many([page_view(f"cand-{i}") for i in range(3)], wait=False)
    offsets = [d.get(timeout=20).offset for d in result.deliveries]
    assert len(offsets) == 3 and result.ok


def test_profile_and_erasure_land_on_the_profile_topic(
    kafka: KafkaSettings, producer: NurtureProducer
) -> None:
    producer.upsert_profile(profile("cand-forget")).get(timeout=20)
    producer.request_erasure("cand-forget", source="privacy-portal", reason="gdpr_art17").get(20)

    first, second = sorted(records_on(kafka, PROFILE, 2), key=lambda r: r.offset)
    assert first.key == second.key == b"cand-forget"
    assert first.partition == second.partition
    kept = decode(first.value)
    assert kept.subject == "candidate_profile"
    # The contact is sealed (docs/privacy.md): no PII in the clear on the topic.
    assert kept.record["contact"]["email"] is None and kept.record["sealed_contact"] is not None
    assert b"anna.schmidt" not in first.value
    erased = decode(second.value)
    assert erased.subject == "erasure_request"
    assert erased.record["candidate_id"] == "cand-forget"
    assert erased.record["source"] == "privacy-portal"
    assert erased.record["reason"] == "gdpr_art17"
    assert dict(second.headers)["nurture-source"] == b"privacy-portal"


def test_invalid_profile_is_refused(kafka: KafkaSettings, producer: NurtureProducer) -> None:
    bad = profile()
    bad["time_zone"] = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError) as caught:
        producer.upsert_profile(bad)
    assert caught.value.field == "time_zone"
    producer.flush()
    assert read_all(kafka, kafka.topic(PROFILE)) == []


def test_encode_event_and_send_encoded(kafka: KafkaSettings, producer: NurtureProducer) -> None:
    key, value = producer.encode_event(page_view("cand-low-level"))
    future = producer.send_encoded(
        producer.topic(ACTIVITY), key, value, [("nurture-source", b"gateway")]
    )
    future.get(timeout=20)
    [record] = records_on(kafka, ACTIVITY, 1)
    assert (record.key, record.value) == (b"cand-low-level", value)
    assert decode_as("activity_event", record.value)["candidate_id"] == "cand-low-level"
