"""`nurture dlq redrive` of delivery's dead letters, against the real broker (issue #18).

An action delivery could not decode (``nurture-reason: schema_error``; here the registry was
down: ``SchemaRegistryUnavailableError``) was recorded nowhere as final, so redrive puts its
original bytes back on ``nurture.action`` once the registry is back, and delivery sends it once.
Letters of actions delivery did record as final (``http_rejected`` here) are still refused.

The registry outage is played by the action decoder (the real loop, publisher, dead letter,
CLI and webhook around it): the loop only sees the ``SchemaError`` a Confluent-framed action
with an id not cached yet raises then, and dead-letters every ``SchemaError`` alike.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers.codecs import DeliveryCodecs, single_object_codecs
from consumers.metrics import DeliveryMetrics
from consumers.run import ProcessParts, build_loop
from consumers.settings import DeliverySettings
from schemas.codec import codec_for
from schemas.errors import SchemaRegistryUnavailableError
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTION_DLQ
from tests.kafka_helpers import read_all, wait_until
from tests.replay_support import nurture
from tests.test_delivery_support import (
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    settings_for,
)

pytestmark = pytest.mark.kafka

REGISTRY_URL = "http://registry.invalid:8081/apis/ccompat/v7"


def _codecs_with_an_outage(registry_down: threading.Event) -> DeliveryCodecs:
    """Single-object codecs whose action decoder fails as a registry outage does while
    ``registry_down`` is set."""
    codecs = single_object_codecs()
    decode = codecs.decode_action

    def decode_action(data: bytes) -> dict[str, Any]:
        if registry_down.is_set():
            raise SchemaRegistryUnavailableError(REGISTRY_URL, "connection refused")
        return decode(data)

    return replace(codecs, decode_action=decode_action)


@contextmanager
def running_delivery(
    kafka: KafkaSettings, settings: DeliverySettings, codecs: DeliveryCodecs
) -> Iterator[None]:
    """The webhook channel's loop with ``codecs``, in a thread; stopped (like SIGTERM) at exit."""
    stop = threading.Event()
    errors: list[BaseException] = []
    with ExitStack() as resources:
        parts = ProcessParts(settings, kafka, DeliveryMetrics(CollectorRegistry()), codecs=codecs)
        loop = build_loop(resources, "webhook", parts)

        def _run() -> None:
            try:
                loop.run(stop)
            except BaseException as exc:
                logging.getLogger(__name__).exception("delivery loop failed")
                errors.append(exc)

        thread = threading.Thread(target=_run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not errors, errors


def _listed(kafka: KafkaSettings, *args: str) -> list[dict[str, Any]]:
    result = nurture(kafka, "dlq", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def _outcome_of(kafka: KafkaSettings, action_id: str) -> list[str]:
    return [o["outcome"] for o in outcomes(kafka) if o["action_id"] == action_id]


def _sends_of(receiver: Receiver, action_id: str) -> int:
    with receiver.lock:
        return sum(r.headers.get("Idempotency-Key") == action_id for r in receiver.receptions)


def test_a_schema_error_action_is_redriven_once_and_final_ones_are_refused(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-sr"))
    lost, rejected, later = action("cand-sr"), action("cand-sr"), action("cand-sr")
    lost_bytes = codec_for("nurture_action").encode(lost.to_avro())
    registry_down = threading.Event()
    registry_down.set()
    receiver = Receiver(statuses=[400])  # the first send (``rejected``) is refused: final
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        with running_delivery(kafka, settings, _codecs_with_an_outage(registry_down)):
            publish_actions(kafka, lost)
            wait_until(lambda: read_all(kafka, kafka.topic(ACTION_DLQ)), what="the schema_error")
            registry_down.clear()  # the registry is back
            publish_actions(kafka, rejected)
            wait_until(lambda: _outcome_of(kafka, rejected.action_id), what="rejected's outcome")
            assert _outcome_of(kafka, rejected.action_id) == ["dead_lettered"]
            assert _outcome_of(kafka, lost.action_id) == []  # nothing recorded for it

            # `--error` selects delivery's letters by error class and by reason.
            (letter,) = _listed(kafka, "--error", "SchemaRegistryUnavailableError")
            assert (letter["reason"], letter["redriven"]) == ("schema_error", False)
            assert REGISTRY_URL in letter["error_message"]
            assert _listed(kafka, "--error", "schema_error") == [letter]
            assert [x["reason"] for x in _listed(kafka, "--error", "http_rejected")] == [
                "http_rejected"
            ]

            first = nurture(kafka, "dlq", "redrive", "--topic", "nurture.action.dlq")
            assert first.exit_code == 0, first.output
            said = " ".join(first.output.split())
            assert "1 redriven, 0 already redriven before, 1 not redrivable" in said
            assert "recorded the action as final (http_rejected)" in said
            wait_until(lambda: _outcome_of(kafka, lost.action_id), what="the redriven outcome")

            again = nurture(kafka, "dlq", "redrive", "--topic", "nurture.action.dlq")
            assert again.exit_code == 0, again.output
            assert "0 redriven, 1 already redriven before, 1 not redrivable" in " ".join(
                again.output.split()
            )
            # A copy re-published anyway (a crash between the redrive and its marker, or the
            # letter of another channel's consumer) is a no-op by action_id; ``later``, behind it
            # on the same partition, shows it was handled.
            publish_actions(kafka, lost, later)
            wait_until(lambda: _outcome_of(kafka, later.action_id), what="later's outcome")

    assert _outcome_of(kafka, lost.action_id) == ["sent"]
    assert _sends_of(receiver, lost.action_id) == 1
    assert _sends_of(receiver, rejected.action_id) == 1
    on_action = [r for r in read_all(kafka, kafka.topic(ACTION)) if r.value == lost_bytes]
    # published, redriven once (the original bytes and key, no dead-letter headers), the copy
    assert len(on_action) == 3
    redriven = on_action[1]
    assert redriven.key == b"cand-sr"
    assert not [k for k, _ in redriven.headers if k.startswith("nurture-")]
    assert [x["redriven"] for x in _listed(kafka, "--error", "schema_error")] == [True]
