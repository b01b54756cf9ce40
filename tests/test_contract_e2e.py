"""End to end over the real broker: encoded records published with kafka-python read back decoded.

Uses the JSON examples of docs/events.md, so every documented event type crosses a real Kafka.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from schemas import codec
from schemas.kafka_seam import clients
from schemas.models import parse_erasure_request, parse_event, parse_profile
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from tests.kafka_helpers import read_all

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
_BLOCK = re.compile(r"```json (\w+)\n(.*?)```", re.DOTALL)


def _examples(subject: str) -> list[dict[str, Any]]:
    found = [json.loads(body) for name, body in _BLOCK.findall(DOCS.read_text()) if name == subject]
    assert found, f"docs/events.md has no {subject} example"
    return found


def test_every_event_type_crosses_kafka_and_decodes_equal(kafka: KafkaSettings) -> None:
    events = [parse_event(example) for example in _examples("activity_event")]
    assert {e.type for e in events} >= {
        "application_submitted",
        "page_viewed",
        "email_opened",
        "email_clicked",
        "career_event_registered",
        "career_event_attended",
        "content_downloaded",
        "job_alert_subscribed",
        "talent_pool_joined",
        "unsubscribed",
    }
    topic = kafka.topic(ACTIVITY)
    producer = clients.producer(kafka, acks="all", enable_idempotence=True)
    for event in events:
        producer.send(
            topic,
            key=event.candidate_id.encode(),
            value=codec.encode("activity_event", event.to_avro()),
        )
    producer.flush(30)
    producer.close()

    records = read_all(kafka, topic)
    assert len(records) == len(events)
    by_id = {}
    for record in records:
        decoded = codec.decode(record.value)
        assert decoded.subject == "activity_event"
        assert record.key == decoded.record["candidate_id"].encode()
        by_id[decoded.record["event_id"]] = decoded.record
    for event in events:
        assert by_id[event.event_id] == event.to_avro()
        assert parse_event(by_id[event.event_id]) == event


def test_profile_topic_carries_profiles_and_erasure_markers(kafka: KafkaSettings) -> None:
    profile = parse_profile(_examples("candidate_profile")[0])
    erasure = parse_erasure_request(_examples("erasure_request")[0])
    topic = kafka.topic(PROFILE)
    producer = clients.producer(kafka, acks="all")
    producer.send(topic, key=b"p", value=codec.encode("candidate_profile", profile.to_avro()))
    producer.send(topic, key=b"p", value=codec.encode("erasure_request", erasure.to_avro()))
    producer.flush(30)
    producer.close()

    decoded = [codec.decode(r.value) for r in read_all(kafka, topic)]
    assert [d.subject for d in decoded] == ["candidate_profile", "erasure_request"]
    assert decoded[0].record == profile.to_avro()
    assert decoded[1].record == erasure.to_avro()
