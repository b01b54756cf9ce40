"""Webhook delivery against a real HTTP receiver and the real broker, consumer in-process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from consumers.webhook_signature import HEADER, verify
from schemas.settings import KafkaSettings
from schemas.topics import ACTION_DLQ
from tests.kafka_helpers import read_all, wait_until
from tests.test_delivery_support import (
    NOW,
    SECRET,
    Receiver,
    action,
    create_retry_topic,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)

pytestmark = pytest.mark.kafka


def _outcome_of(kafka: KafkaSettings, action_id: str) -> list[dict[str, object]]:
    return [o for o in outcomes(kafka) if o["action_id"] == action_id]


def test_fails_twice_then_delivers_exactly_once_signed(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    create_retry_topic(kafka)
    publish_profile(kafka, profile("cand-1"))
    receiver = Receiver(statuses=[503, 503])
    the_action = action("cand-1")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        with running_delivery(kafka, settings):
            publish_actions(kafka, the_action)
            sent = wait_until(
                lambda: [
                    o for o in _outcome_of(kafka, the_action.action_id) if o["outcome"] == "sent"
                ],
                what="sent outcome",
            )
            publish_actions(kafka, the_action)  # a redelivered decision: a no-op
            wait_until(lambda: len(_outcome_of(kafka, the_action.action_id)) >= 1)
    assert receiver.count() == 3
    assert sent[0]["attempt"] == 3
    assert len(_outcome_of(kafka, the_action.action_id)) == 1
    keys = {r.headers["Idempotency-Key"] for r in receiver.receptions}
    assert keys == {the_action.action_id}
    last = receiver.receptions[-1]
    assert verify(SECRET, last.headers[HEADER], last.body)
    assert not verify("other-secret", last.headers[HEADER], last.body)
    body = orjson.loads(last.body)
    assert body["action_id"] == the_action.action_id
    assert body["attempt"] == 3


def test_http_400_is_dead_lettered_at_once(kafka: KafkaSettings, tmp_path: Path) -> None:
    create_retry_topic(kafka)
    publish_profile(kafka, profile("cand-2"))
    receiver = Receiver(final_status=400)
    the_action = action("cand-2")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url})
        with running_delivery(kafka, settings):
            publish_actions(kafka, the_action)
            found = wait_until(lambda: _outcome_of(kafka, the_action.action_id))
    assert receiver.count() == 1
    assert found[0]["outcome"] == "dead_lettered"
    assert found[0]["reason"] == "http_rejected"
    dead = read_all(kafka, kafka.topic(ACTION_DLQ))
    assert len(dead) == 1
    assert dict(dead[0].headers)["nurture-reason"] == b"http_rejected"


def test_http_410_stops_the_endpoint(kafka: KafkaSettings, tmp_path: Path) -> None:
    create_retry_topic(kafka)
    publish_profile(kafka, profile("cand-3"))
    receiver = Receiver(final_status=410)
    first, second = action("cand-3"), action("cand-3")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url})
        with running_delivery(kafka, settings):
            publish_actions(kafka, first, second)
            wait_until(lambda: len(outcomes(kafka)) == 2, what="two outcomes")
    assert receiver.count() == 1
    assert {(o["outcome"], o["reason"]) for o in outcomes(kafka)} == {
        ("dead_lettered", "endpoint_gone")
    }


def test_consent_withdrawn_after_the_decision_is_suppressed(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    create_retry_topic(kafka)
    withdrawn = {
        "granted": True,
        "granted_at": NOW - timedelta(days=30),
        "withdrawn_at": NOW - timedelta(minutes=1),
    }
    publish_profile(kafka, profile("cand-4", consents={"ads": withdrawn}))
    receiver = Receiver()
    the_action = action("cand-4", "ad_audience", audience="hot", audience_op="add")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"ad_audience": url})
        with running_delivery(kafka, settings, channel="ad_audience"):
            publish_actions(kafka, the_action, action("cand-4"))  # the webhook one is skipped
            found = wait_until(lambda: _outcome_of(kafka, the_action.action_id))
    assert receiver.count() == 0
    assert (found[0]["outcome"], found[0]["reason"]) == ("suppressed", "consent_withdrawn")
    assert len(outcomes(kafka)) == 1
