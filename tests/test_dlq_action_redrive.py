"""`nurture dlq redrive` of delivery's dead letters, against the real broker (issue #18).

An action delivery could not decode (``nurture-reason: schema_error``; here the registry was
down: ``SchemaRegistryUnavailableError``) was recorded nowhere as final, so redrive puts its
original bytes back on ``nurture.action`` once the registry is back, and delivery sends it once.
Letters of actions delivery did record as final (``http_rejected`` here) are still refused. A
retry record that did not decode goes back to ``nurture.action.retry`` with its headers (its
letter keeps them), and the retry carries on.

The registry outage is played by the action decoder (the real loop, publisher, dead letter,
CLI and webhook around it): the loop only sees the ``SchemaError`` a Confluent-framed action
with an id not cached yet raises then, and dead-letters every ``SchemaError`` alike.
"""

from __future__ import annotations

import itertools
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
from consumers.retries import ATTEMPT_HEADER, read_retry_headers
from consumers.run import ProcessParts, build_loop
from consumers.settings import DeliverySettings
from schemas.codec import codec_for
from schemas.errors import SchemaRegistryUnavailableError
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTION_DLQ, ACTION_RETRY
from streams.replay import dead_letters
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


def _codecs_with_an_outage(
    registry_down: threading.Event, *, at_decodes: frozenset[int] = frozenset()
) -> DeliveryCodecs:
    """Single-object codecs whose action decoder fails as a registry outage does while
    ``registry_down`` is set, and at the ``at_decodes``-th actions it decodes (from 1)."""
    codecs = single_object_codecs()
    decode = codecs.decode_action
    decodes = itertools.count(1)

    def decode_action(data: bytes) -> dict[str, Any]:
        if next(decodes) in at_decodes or registry_down.is_set():
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


def test_a_retry_that_did_not_decode_is_redriven_to_the_retry_topic_and_carries_on(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    """The first attempt fails (503) and goes to the retry topic; that retry record meets the
    outage (the second decode). Its letter keeps the retry headers, and the redriven copy is
    attempt 2 on the retry topic. Before, the copy went to nurture.action without them, where
    delivery skipped it (its store says "retrying": the next attempt is the retry topic's)."""
    publish_profile(kafka, profile("cand-rt"))
    stuck = action("cand-rt")
    receiver = Receiver(statuses=[503])
    with http_receiver(receiver) as url:
        settings = settings_for(tmp_path, webhooks={"crm": url + "/hook"})
        outage = _codecs_with_an_outage(threading.Event(), at_decodes=frozenset({2}))
        with running_delivery(kafka, settings, outage):
            publish_actions(kafka, stuck)
            (letter,) = wait_until(
                lambda: read_all(kafka, kafka.topic(ACTION_DLQ)), what="the retry's letter"
            )
            retry = read_retry_headers(letter.headers)
            assert retry is not None and retry.attempt == 2, letter.headers
            assert dict(letter.headers)["nurture-reason"] == b"schema_error"  # the last one
            (listed,) = _listed(kafka, "--error", "schema_error")
            assert listed["origin_topic"] == kafka.topic(ACTION_RETRY)

            redriven = nurture(kafka, "dlq", "redrive", "--topic", "nurture.action.dlq")
            assert redriven.exit_code == 0, redriven.output
            assert f"-> {kafka.topic(ACTION_RETRY)}" in " ".join(redriven.output.split())
            wait_until(
                lambda: _outcome_of(kafka, stuck.action_id), timeout_s=20, what="the outcome"
            )

    assert _outcome_of(kafka, stuck.action_id) == ["sent"]
    assert _sends_of(receiver, stuck.action_id) == 2  # the 503, then the redriven attempt 2
    on_retry = [r for r in read_all(kafka, kafka.topic(ACTION_RETRY)) if r.key == b"cand-rt"]
    assert len(on_retry) == 2  # the retry record and its redriven copy, same headers
    assert on_retry[1].headers == on_retry[0].headers
    assert [v for k, v in on_retry[1].headers if k == ATTEMPT_HEADER] == [b"2"]


def _schema_error_letter(kafka: KafkaSettings, origin: str, kept: list[tuple[str, bytes]]) -> Any:
    """A schema_error letter of a record read from ``origin`` that kept the headers ``kept``."""
    own = [
        ("nurture-reason", b"schema_error"),
        ("nurture-origin", f"{origin}[0] offset=7".encode()),
        ("nurture-error-class", b"SchemaRegistryUnavailableError"),
        ("nurture-error", b"schema registry at http://registry.test is unavailable"),
    ]
    return dead_letters.DeadLetter(
        dlq_topic=kafka.topic(ACTION_DLQ),
        partition=0,
        offset=3,
        timestamp_ms=0,
        key=b"cand-old",
        value=b"\x00\x00\x00\x00\x01",
        headers=[*kept, *own],
        origin_topic=origin,
        origin_partition=0,
        origin_offset=7,
        error_class="SchemaRegistryUnavailableError",
        error_message="unavailable",
        reason="schema_error",
    )


def test_an_old_retry_letter_without_its_retry_headers_is_refused_with_the_reason() -> None:
    """Letters written before delivery kept a retry record's headers: a copy on the retry topic
    without them would be skipped by delivery (its store says "retrying"), so redrive refuses it
    and says why instead of reporting it redriven. No broker: nothing is sent."""
    kafka = KafkaSettings(topic_prefix="old.")
    old = _schema_error_letter(kafka, kafka.topic(ACTION_RETRY), [])
    why = dead_letters.refusal(kafka, old)
    assert why is not None and "without its retry headers" in why
    report = dead_letters.redrive(kafka, [old])
    assert (report.redriven, report.refused) == ([], [old])
    kept = [(ATTEMPT_HEADER, b"2"), ("nurture-not-before-ms", b"1"), ("nurture-reason", b"503")]
    assert dead_letters.refusal(kafka, _schema_error_letter(kafka, old.origin_topic, kept)) is None
    assert dead_letters.refusal(kafka, _schema_error_letter(kafka, kafka.topic(ACTION), [])) is None
    assert dead_letters.RETRY_ATTEMPT_HEADER == ATTEMPT_HEADER
