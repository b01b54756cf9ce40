"""Webhook delivery against a real HTTP receiver and the real broker, consumer in-process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook, WebhookVerificationError

from consumers.store import DeliveryStore
from consumers.webhook_signature import HEADER, ID_HEADER, standard_secret, verify
from producers.producer import NurtureProducer
from schemas.codec import codec_for
from schemas.models import DeliveryOutcome
from schemas.settings import KafkaSettings
from schemas.topics import ACTION_DLQ
from tests.kafka_helpers import read_all, wait_until
from tests.test_delivery_support import (
    NOW,
    SECRET,
    HoldingReceiver,
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)

pytestmark = pytest.mark.kafka


def _outcome_of(kafka: KafkaSettings, action_id: str) -> list[dict[str, Any]]:
    return [o for o in outcomes(kafka) if o["action_id"] == action_id]


def test_fails_twice_then_delivers_exactly_once_signed(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
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
    # Standard Webhooks, checked by its library as a receiver would: one webhook-id (the action
    # id) on every attempt, each attempt's body signed; a changed body is refused.
    library = Webhook(standard_secret(SECRET))
    for attempt, reception in enumerate(receiver.receptions, start=1):
        assert reception.headers[ID_HEADER] == the_action.action_id
        assert library.verify(reception.body, reception.headers)["attempt"] == attempt
        with pytest.raises(WebhookVerificationError):
            library.verify(reception.body.replace(b"attempt", b"attempts"), reception.headers)
    last = receiver.receptions[-1]
    assert verify(SECRET, last.headers[HEADER], last.body)  # the deprecated header, still sent
    assert not verify("other-secret", last.headers[HEADER], last.body)
    body = orjson.loads(last.body)
    assert body["action_id"] == the_action.action_id
    assert body["attempt"] == 3


def test_http_400_is_dead_lettered_at_once(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-2"))
    receiver = Receiver(final_status=400)
    the_action = action("cand-2")
    registry = CollectorRegistry()
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url})
        with running_delivery(kafka, settings, registry=registry):
            publish_actions(kafka, the_action)
            found = wait_until(lambda: _outcome_of(kafka, the_action.action_id))
    labels = {"channel": "webhook", "outcome": "dead_lettered", "reason": "http_rejected"}
    assert registry.get_sample_value("nurture_delivery_outcomes_total", labels) == 1
    assert registry.get_sample_value("nurture_delivery_send_seconds_count", {"channel": "webhook"})
    assert receiver.count() == 1
    assert found[0]["outcome"] == "dead_lettered"
    assert found[0]["reason"] == "http_rejected"
    dead = read_all(kafka, kafka.topic(ACTION_DLQ))
    assert len(dead) == 1
    assert dict(dead[0].headers)["nurture-reason"] == b"http_rejected"


def test_http_410_stops_the_endpoint(kafka: KafkaSettings, tmp_path: Path) -> None:
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


def test_outcomes_on_kafka_dedupe_across_stores(kafka: KafkaSettings, tmp_path: Path) -> None:
    """A process with a fresh store (lost data dir, another host) does not resend."""
    publish_profile(kafka, profile("cand-5"))
    receiver = Receiver()
    the_action = action("cand-5")
    with http_receiver(receiver) as url:
        first = settings_for(tmp_path / "a", webhooks={"crm": url})
        with running_delivery(kafka, first):
            publish_actions(kafka, the_action)
            wait_until(lambda: _outcome_of(kafka, the_action.action_id))
        # Another group reads nurture.action from the start again, with an empty store.
        other = settings_for(tmp_path / "b", webhooks={"crm": url}, group_prefix="other")
        later = action("cand-5")
        with running_delivery(kafka, other):
            publish_actions(kafka, later)
            wait_until(lambda: _outcome_of(kafka, later.action_id))
    assert [r.headers["Idempotency-Key"] for r in receiver.receptions] == [
        the_action.action_id,
        later.action_id,
    ]


def test_a_retrying_action_does_not_block_fresh_ones(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-6"))
    flaky, steady = Receiver(statuses=[429], retry_after="2"), Receiver()
    slow, fresh = action("cand-6", endpoint="flaky"), action("cand-6", endpoint="steady")
    with http_receiver(flaky) as flaky_url, http_receiver(steady) as steady_url:
        settings = settings_for(tmp_path, webhooks={"flaky": flaky_url, "steady": steady_url})
        with running_delivery(kafka, settings):
            publish_actions(kafka, slow, fresh)  # same candidate: same partition, this order
            wait_until(lambda: _outcome_of(kafka, fresh.action_id), what="fresh one sent")
            assert not _outcome_of(kafka, slow.action_id)  # its retry waits >= Retry-After
            done = wait_until(lambda: _outcome_of(kafka, slow.action_id), what="retried one")
    assert (done[0]["outcome"], done[0]["attempt"]) == ("sent", 2)
    assert flaky.count() == 2


def test_past_the_retry_horizon_it_is_dead_lettered(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-7"))
    receiver = Receiver(final_status=503)
    the_action = action("cand-7")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url}, retry_horizon_s=1.0)
        with running_delivery(kafka, settings):
            publish_actions(kafka, the_action)
            found = wait_until(lambda: _outcome_of(kafka, the_action.action_id))
    assert (found[0]["outcome"], found[0]["reason"]) == ("dead_lettered", "retry_horizon")
    assert receiver.count() == found[0]["attempt"] >= 2
    dead = read_all(kafka, kafka.topic(ACTION_DLQ))
    assert [dict(r.headers)["nurture-reason"] for r in dead] == [b"retry_horizon"]


def test_erased_candidates_and_future_not_before(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-8"))
    publish_profile(kafka, profile("cand-9"))
    with NurtureProducer(kafka) as producer:
        producer.request_erasure("cand-8")
        producer.flush()
    receiver = Receiver()
    erased = action("cand-8")
    due = datetime.now(UTC) + timedelta(seconds=2)
    held = action("cand-9", not_before=due)
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url})
        with running_delivery(kafka, settings):
            publish_actions(kafka, erased, held)
            sent = wait_until(lambda: _outcome_of(kafka, held.action_id), what="held one")
    assert _outcome_of(kafka, erased.action_id)[0]["reason"] == "erased"
    assert sent[0]["outcome"] == "sent"
    assert sent[0]["occurred_at"] >= due
    assert receiver.count() == 1


def test_a_timeout_is_retried_with_the_same_key(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-10"))
    receiver = HoldingReceiver()  # holds the first answer past the client's timeout
    the_action = action("cand-10")
    try:
        with http_receiver(receiver) as url:
            settings = settings_for(tmp_path, webhooks={"crm": url}, http_timeout_s=0.5)
            with running_delivery(kafka, settings):
                publish_actions(kafka, the_action)
                found = wait_until(lambda: _outcome_of(kafka, the_action.action_id))
                receiver.release.set()
    finally:
        receiver.release.set()
    assert (found[0]["outcome"], found[0]["attempt"]) == ("sent", 2)
    keys = [r.headers["Idempotency-Key"] for r in receiver.receptions]
    assert keys == [the_action.action_id, the_action.action_id]


def test_an_outcome_lost_in_a_crash_is_published_again_without_a_send(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    """The store says sent but the outcome never reached Kafka (killed before the flush)."""
    publish_profile(kafka, profile("cand-11"))
    the_action = action("cand-11")
    settings = settings_for(tmp_path)
    lost = DeliveryOutcome(
        action_id=the_action.action_id,
        candidate_id="cand-11",
        campaign_id=the_action.campaign_id,
        channel="webhook",
        outcome="sent",
        attempt=1,
        occurred_at=NOW,
        detail="http 200",
    )
    store = DeliveryStore(settings.data_dir, "webhook")
    store.mark_final(
        the_action.action_id, "sent", 1, codec_for("delivery_outcome").encode(lost.to_avro())
    )
    store.close()
    receiver = Receiver()
    with (
        http_receiver(receiver) as url,
        running_delivery(kafka, settings_for(tmp_path, webhooks={"crm": url})),  # same store
    ):
        publish_actions(kafka, the_action)
        found = wait_until(lambda: _outcome_of(kafka, the_action.action_id))
    assert receiver.count() == 0
    assert (found[0]["outcome"], found[0]["detail"]) == ("sent", "http 200")
