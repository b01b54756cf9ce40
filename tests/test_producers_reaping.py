"""How send() tracks failures without an errback per record (producers/sending.py, _reap).

A fake kafka-python client whose futures the test completes by hand: what is checked here is the
SDK's own bookkeeping (the broker-backed tests are in test_producers_failures.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotEnoughReplicasError,
    UnknownError,
)
from kafka.future import Future

import producers.sending as sending_module
from producers.delivery import DeliveryRejectedError, PublishTimeoutError
from producers.producer import REAP_EVERY, NurtureProducer
from producers.settings import ProducerSettings
from schemas.errors import NurtureError
from schemas.settings import KafkaSettings


class FakeClient:
    """Sends return futures the test resolves; flush resolves the rest unless ``stuck``."""

    def __init__(self) -> None:
        self.futures: list[Future] = []
        self.stuck = False
        self.on_force_close: list[Any] = []

    def send(self, topic: str, value: bytes, key: bytes, headers: Any) -> Future:
        future = Future()
        self.futures.append(future)
        return future

    def flush(self, timeout: float | None = None) -> None:
        if self.stuck:
            raise KafkaTimeoutError("stuck")
        for future in self.futures:
            if not future.is_done:
                future.success(None)


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[NurtureProducer]:
    def force_close(client: FakeClient, *args: Any, **kwargs: Any) -> None:
        for hook in client.on_force_close:
            hook()
        for future in client.futures:
            if not future.is_done:
                future.failure(KafkaTimeoutError("closed forcefully"))

    monkeypatch.setattr(sending_module, "connect", lambda kafka, settings: FakeClient())
    monkeypatch.setattr(sending_module, "force_close", force_close)
    yield NurtureProducer(KafkaSettings(), ProducerSettings())


def restarting(sdk: NurtureProducer) -> bool:
    """True when the next send starts a fresh client."""
    return sdk._restart_pending


def event(n: int) -> dict[str, Any]:
    return {
        "event_id": f"evt-{n}",
        "type": "page_viewed",
        "candidate_id": "cand-1",
        "source": "career-site",
        "occurred_at": datetime(2026, 11, 1, tzinfo=UTC),
        "payload": {"url": "https://careers.example.test/jobs/1"},
    }


def test_a_slow_record_holds_back_neither_later_deliveries_nor_their_failures(
    sdk: NurtureProducer,
) -> None:
    head = sdk.send(event(0))
    later = [sdk.send(event(n)) for n in range(1, 3 * REAP_EVERY)]
    for delivery in later[:10]:  # refused (not retriable: no client restart)
        delivery.kafka_future.failure(MessageSizeTooLargeError("too large"))
    for delivery in later[10:]:
        delivery.kafka_future.success(None)
    for n in range(3 * REAP_EVERY, 6 * REAP_EVERY):  # more sends: the periodic checks run
        sdk.send(event(n)).kafka_future.success(None)
    assert not head.done()
    assert len(sdk._unreaped) < 2 * REAP_EVERY  # not every delivery behind the slow one
    head.kafka_future.success(None)
    with pytest.raises(DeliveryRejectedError) as caught:
        sdk.flush()
    assert caught.value.event_id in {d.event_id for d in later[:10]}
    assert "10 record(s) failed" in " ".join(caught.value.__notes__)


def test_a_slow_sender_gets_its_failures_counted_within_a_second(
    sdk: NurtureProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("producers.producer.time.monotonic", lambda: clock[0])
    sdk._next_reap = clock[0] + sending_module.REAP_INTERVAL_S
    first_client = sdk._client
    sdk.send(event(0)).kafka_future.failure(KafkaTimeoutError("expired"))
    sdk.send(event(1))  # within the interval: not checked yet
    assert not restarting(sdk)
    clock[0] += sending_module.REAP_INTERVAL_S
    sdk.send(event(2))  # the first send after a second checks, and sees the timeout
    assert restarting(sdk)
    sdk.send(event(3))
    assert sdk._client is not first_client


def test_a_flush_that_retires_the_client_keeps_tracking_other_threads_new_sends(
    sdk: NurtureProducer,
) -> None:
    sdk.send(event(0))
    old: Any = sdk._client
    old.stuck = True
    sdk._deadline_s = 0.0  # the flush is overdue at once: the client is retired
    sent = []

    def send_from_another_thread() -> None:
        thread = threading.Thread(target=lambda: sent.append(sdk.send(event(99))))
        thread.start()
        thread.join()

    old.on_force_close.append(send_from_another_thread)
    with pytest.raises(NurtureError):
        sdk.flush()
    (other,) = sent
    assert other.client is not old
    other.kafka_future.failure(NotEnoughReplicasError("refused"))
    sdk._deadline_s = 10.0
    with pytest.raises(PublishTimeoutError) as caught:
        sdk.flush()
    assert caught.value.event_id == "evt-99"


def test_a_flush_kafka_python_fails_outright_still_raises_an_sdk_error(
    sdk: NurtureProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = sdk.send(event(1))
    refused.kafka_future.failure(MessageSizeTooLargeError("too large"))

    def broken_flush(timeout: float | None = None) -> None:
        raise UnknownError("Future not done")

    monkeypatch.setattr(sdk._client, "flush", broken_flush)
    with pytest.raises(DeliveryRejectedError) as caught:  # the counted failure comes first
        sdk.flush()
    assert caught.value.event_id == "evt-1"
    with pytest.raises(NurtureError):  # and without one, kafka-python's error, translated
        sdk.flush()
