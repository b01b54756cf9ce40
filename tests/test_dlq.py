"""`nurture dlq list|show|redrive` against the real broker.

Dead letters are made with the worker's own function (streams.worker.dlq.dead_letter) and published
where the worker publishes them; redrive must put the original key, value and headers back on
the origin topic once, and a second redrive must publish nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.codec import activity_codec
from schemas.errors import CorruptPayloadError, RecordTooLargeError, ValidationError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTION_DLQ, ACTIVITY, ACTIVITY_DLQ
from streams.bench.loadgen import START
from streams.replay.dead_letters import HEADER_REDRIVEN
from streams.worker.dlq import dead_letter
from tests.kafka_helpers import read_all
from tests.replay_support import nurture

pytestmark = pytest.mark.kafka

EVENT: dict[str, Any] = {
    "event_id": "evt-dlq-1",
    "type": "page_viewed",
    "candidate_id": "cand-dlq-1",
    "occurred_at": START,
    "source": "test",
    "received_at": None,
    "correlation_id": None,
    "payload": {"url": "https://careers.example.com/jobs/1", "page_type": "job", "job_id": "1"},
}


def _publish_letters(kafka: KafkaSettings) -> bytes:
    good = activity_codec().encode(EVENT)
    letters = [
        dead_letter(
            key=b"cand-dlq-1",
            value=good,
            headers=[("nurture.source", b"ats")],
            topic=kafka.topic(ACTIVITY),
            partition=1,
            offset=41,
            error=ValidationError("payload.url", "was refused by an old version"),
        ),
        dead_letter(
            key=b"cand-dlq-2",
            value=b"\x00garbage",
            headers=None,
            topic=kafka.topic(ACTIVITY),
            partition=2,
            offset=7,
            error=CorruptPayloadError("payload does not start with C3 01"),
        ),
        dead_letter(  # over the size limit: only its start is kept
            key=b"cand-dlq-4",
            value=b"\x00" + b"x" * 5000,
            headers=None,
            topic=kafka.topic(ACTIVITY),
            partition=0,
            offset=3,
            error=RecordTooLargeError(5001, 4096),
            max_bytes=2048,
        ),
    ]
    producer = clients.producer(kafka, acks="all")
    try:
        for letter in letters:
            producer.send(
                kafka.topic(ACTIVITY_DLQ),
                key=letter.key,
                value=letter.value,
                headers=letter.headers,
            )
        producer.send(
            kafka.topic(ACTION_DLQ),
            key=b"cand-dlq-3",
            value=b"action bytes",
            headers=[("nurture-reason", b"retry_horizon"), ("nurture-channel", b"email")],
        )
        producer.flush()
    finally:
        producer.close()
    return good


def _listed(kafka: KafkaSettings, *args: str) -> list[dict[str, Any]]:
    result = nurture(kafka, "dlq", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_list_show_and_redrive_once(kafka: KafkaSettings) -> None:
    good = _publish_letters(kafka)

    everything = _listed(kafka)
    assert sorted(x["error_class"] for x in everything) == [
        "CorruptPayloadError",
        "RecordTooLargeError",
        "ValidationError",
        "retry_horizon",
    ]
    corrupt = _listed(kafka, "--error", "CorruptPayloadError")
    assert len(corrupt) == 1
    assert corrupt[0]["origin_topic"] == kafka.topic(ACTIVITY)
    assert (corrupt[0]["origin_partition"], corrupt[0]["origin_offset"]) == (2, 7)
    assert _listed(kafka, "--since", "2999-01-01") == []
    assert len(_listed(kafka, "--topic", "candidate.activity.dlq")) == 3

    (valid,) = _listed(kafka, "--error", "ValidationError")
    shown = nurture(kafka, "dlq", "show", valid["id"])
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["value"]["subject"] == "activity_event"
    assert detail["value"]["record"]["event_id"] == "evt-dlq-1"
    assert ["nurture.source", "ats"] in detail["headers"]

    first = nurture(kafka, "dlq", "redrive", "--error", "ValidationError")
    assert first.exit_code == 0, first.output
    assert "1 redriven" in first.output
    (redriven,) = read_all(kafka, kafka.topic(ACTIVITY))
    assert (redriven.key, redriven.value) == (b"cand-dlq-1", good)
    assert list(redriven.headers) == [("nurture.source", b"ats")]
    markers = [
        m for m in read_all(kafka, kafka.topic(ACTIVITY_DLQ)) if HEADER_REDRIVEN in dict(m.headers)
    ]
    assert len(markers) == 1 and markers[0].value is None
    assert [x["redriven"] for x in _listed(kafka, "--error", "ValidationError")] == [True]

    again = nurture(kafka, "dlq", "redrive")  # everything: the redriven one, the rest
    assert again.exit_code == 0, again.output
    assert "1 already redriven" in again.output
    assert "1 not redrivable" in again.output  # the action dead letter
    assert "1 truncated" in " ".join(again.output.split())  # a cut copy: never re-published
    # The corrupt one is re-published too (it is not marked yet); the good one is not again.
    values = [m.value for m in read_all(kafka, kafka.topic(ACTIVITY))]
    assert values.count(good) == 1
    assert values.count(b"\x00garbage") == 1
    assert len(values) == 2  # nothing of the truncated letter


def test_show_refuses_an_unknown_id(kafka: KafkaSettings) -> None:
    result = nurture(kafka, "dlq", "show", f"{kafka.topic(ACTIVITY_DLQ)}:0:999")
    assert result.exit_code == 1
    assert "no dead letter" in result.output
