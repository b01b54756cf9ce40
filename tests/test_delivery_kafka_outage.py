"""Delivery through a Kafka outage: a view that cannot catch up (a broker died: its requests
time out until the partitions have new leaders) makes the loop read the batch again instead
of ending the process; nothing is decided on a stale view, nothing is sent twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    KafkaTimeoutError,
    RebalanceInProgressError,
    TopicAuthorizationFailedError,
)

from consumers.mirror import TopicMirror
from consumers.run import group_id
from consumers.suppression import SuppressionState
from schemas.errors import KafkaUnavailableError
from schemas.settings import KafkaSettings
from schemas.topics import ACTION
from streams.worker.probe import group_lag
from tests.kafka_helpers import wait_until
from tests.test_delivery_support import (
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

TP0 = TopicPartition("candidate.profile", 0)


class _Reader:
    """end_offsets answering from a script: an exception to raise, or the offsets."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    def end_offsets(self, partitions: list[TopicPartition], timeout_s: float) -> dict[Any, int]:
        assert timeout_s <= 5.0
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


class _Mirror(TopicMirror):
    """The reading parts of a mirror on a scripted reader (no broker needed here)."""

    def __init__(self, reader: _Reader, timeout_s: float) -> None:
        self.topic = TP0.topic
        self._timeout_s = timeout_s
        self._reader = reader  # type: ignore[assignment]
        self._partitions = [TP0]
        self.reconnects = 0

    def _reconnect(self) -> None:
        self.reconnects += 1


def _mirror(reader: _Reader, timeout_s: float) -> _Mirror:
    return _Mirror(reader, timeout_s)


def test_end_offsets_are_asked_again_by_a_new_client_after_a_timeout() -> None:
    reader = _Reader([KafkaTimeoutError("dead leader"), {TP0: 7}])
    mirror = _mirror(reader, 10.0)
    assert mirror._end_offsets(deadline=float("inf")) == {TP0: 7}
    assert reader.calls == 2
    assert mirror.reconnects == 1, "asked again through a new client"


def test_past_the_deadline_it_is_kafka_unavailable_and_a_refusal_is_not_retried() -> None:
    late = _mirror(_Reader([KafkaTimeoutError("dead leader")]), 0.0)
    with pytest.raises(KafkaUnavailableError, match=r"end offsets of candidate\.profile"):
        late._end_offsets(deadline=0.0)
    refused = _mirror(_Reader([TopicAuthorizationFailedError("no")]), 10.0)
    with pytest.raises(TopicAuthorizationFailedError):
        refused._end_offsets(deadline=float("inf"))


@pytest.mark.kafka
def test_a_view_that_cannot_catch_up_delays_the_batch_and_sends_it_once(
    kafka: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original: Callable[[SuppressionState], None] = SuppressionState.catch_up
    failures = [KafkaUnavailableError("could not read the end offsets: broker down")] * 2

    def flaky(self: SuppressionState) -> None:
        if failures:
            raise failures.pop()
        original(self)

    monkeypatch.setattr(SuppressionState, "catch_up", flaky)
    publish_profile(kafka, profile("cand-outage"))
    receiver = Receiver()
    the_action = action("cand-outage")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        with running_delivery(kafka, settings):  # fails the test if the loop raised
            publish_actions(kafka, the_action)
            wait_until(
                lambda: any(o["action_id"] == the_action.action_id for o in outcomes(kafka)),
                what="the action's outcome",
            )
    assert not failures, "both failed catch-ups happened before the send"
    assert receiver.count() == 1
    assert [o["outcome"] for o in outcomes(kafka)] == ["sent"]


class _Counting(TopicMirror):
    def __init__(self, kafka: KafkaSettings) -> None:
        self.seen: list[int] = []
        super().__init__(kafka, "candidate.profile")

    def apply(self, record: Any) -> None:
        self.seen.append(record.offset)


@pytest.mark.kafka
def test_a_new_client_reads_on_where_the_view_stood(kafka: KafkaSettings) -> None:
    publish_profile(kafka, profile("cand-a"))
    publish_profile(kafka, profile("cand-b"))
    mirror = _Counting(kafka)
    try:
        mirror.catch_up()
        assert len(mirror.seen) == 2
        mirror._reconnect()
        publish_profile(kafka, profile("cand-c"))
        mirror.catch_up()
        assert len(mirror.seen) == 3, "nothing applied twice, nothing missed"
    finally:
        mirror.close()


@pytest.mark.kafka
def test_a_refused_commit_is_made_at_the_next_turn(
    kafka: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebalance that refuses commits (a restarted broker moved the group's coordinator)
    must not leave the done work uncommitted for good once the consumer is idle."""
    original = KafkaConsumer.commit
    refusals = [RebalanceInProgressError("the coordinator moved")] * 3

    def refusing(self: KafkaConsumer, *args: Any, **kwargs: Any) -> Any:
        if refusals:
            raise refusals.pop()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KafkaConsumer, "commit", refusing)
    publish_profile(kafka, profile("cand-commit"))
    receiver = Receiver()
    the_action = action("cand-commit")
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        group = group_id(kafka, settings, "webhook")
        with running_delivery(kafka, settings):
            publish_actions(kafka, the_action)
            wait_until(
                lambda: not any(group_lag(kafka, group, kafka.topic(ACTION)).values()),
                timeout_s=60,
                what="the delivery group to commit the action",
            )
    assert not refusals
    assert receiver.count() == 1
