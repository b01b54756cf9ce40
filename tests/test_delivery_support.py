"""Helpers shared by the delivery tests (real peers, real broker), and tests of the helpers.

Named ``test_delivery_*`` like every delivery test module; it holds the HTTP receiver, action
and profile builders, the in-process consumer runner and the retry-topic creation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from pydantic_settings import BaseSettings

from consumers.metrics import DeliveryMetrics
from consumers.run import ProcessParts, build_loop
from consumers.settings import DeliverySettings
from deploy.cli.settings_fields import leaves
from producers.producer import NurtureProducer
from schemas.codec import codec_for
from schemas.kafka_seam import clients
from schemas.models import CandidateProfile, NurtureAction, parse_delivery_outcome
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, DELIVERY
from tests.kafka_helpers import read_all, unique

SECRET = "webhook-secret-of-the-delivery-tests"
#: The tracking key of the delivery tests (long and not a placeholder, so it is accepted).
TRACKING_SECRET = "tracking-secret-of-the-delivery-tests"
NOW = datetime.now(UTC)


@dataclass
class Reception:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP endpoint answering ``statuses`` in turn (then ``final_status``)."""

    statuses: list[int] = field(default_factory=list)
    final_status: int = 200
    retry_after: str | None = None
    receptions: list[Reception] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, reception: Reception) -> int:
        with self.lock:
            self.receptions.append(reception)
            return self.statuses.pop(0) if self.statuses else self.final_status

    def count(self) -> int:
        with self.lock:
            return len(self.receptions)


class HoldingReceiver(Receiver):
    """Holds its first answer until ``release`` is set (the sender is killed meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def answer(self, reception: Reception) -> int:
        status = super().answer(reception)
        if self.count() == 1:
            self.release.wait(timeout=60)
        return status


@contextmanager
def http_receiver(receiver: Receiver) -> Iterator[str]:
    """Serve ``receiver`` on 127.0.0.1 (a free port); yields its base URL."""

    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = receiver.answer(Reception(self.path, dict(self.headers.items()), body))
            self.send_response(status)
            if receiver.retry_after and status == 429:
                self.send_header("Retry-After", receiver.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def profile(
    candidate_id: str,
    *,
    consents: dict[str, dict[str, Any]] | None = None,
    locale: str | None = None,
    updated_at: datetime = NOW,
) -> CandidateProfile:
    granted = {"granted": True, "granted_at": NOW - timedelta(days=30)}
    return CandidateProfile.model_validate(
        {
            "candidate_id": candidate_id,
            "contact": {"email": f"{candidate_id}@example.org", "first_name": "Ada"},
            "locale": locale,
            "consents": consents if consents is not None else {"email": granted},
            "updated_at": updated_at,
            "source": "test",
        }
    )


def publish_profile(kafka: KafkaSettings, value: CandidateProfile) -> None:
    with NurtureProducer(kafka) as producer:
        producer.upsert_profile(value)
        producer.flush()


def action(candidate_id: str, channel: str = "webhook", **extra: Any) -> NurtureAction:
    fields: dict[str, Any] = {
        "action_id": unique("act"),
        "candidate_id": candidate_id,
        "campaign_id": "welcome-series",
        "campaign_version": 1,
        "step_id": "welcome",
        "channel": channel,
        "trigger_event_id": unique("evt"),
        "decided_at": NOW,
        "model_version": "m1",
    }
    if channel == "webhook":
        fields["endpoint"] = "crm"
    fields.update(extra)
    return NurtureAction.model_validate(fields)


def publish_actions(kafka: KafkaSettings, *actions: NurtureAction) -> None:
    producer = clients.producer(kafka, acks="all")
    try:
        codec = codec_for("nurture_action")
        for each in actions:
            producer.send(
                kafka.topic(ACTION),
                key=each.candidate_id.encode(),
                value=codec.encode(each.to_avro()),
            )
        producer.flush()
    finally:
        producer.close()


def outcomes(kafka: KafkaSettings) -> list[dict[str, Any]]:
    codec = codec_for("delivery_outcome")
    return [
        parse_delivery_outcome(codec.decode(r.value)).model_dump()
        for r in read_all(kafka, kafka.topic(DELIVERY))
    ]


def settings_for(tmp_path: Path, **overrides: Any) -> DeliverySettings:
    """Test settings: fast retries and polls, fixed keys. Settings are named as their variables
    without ``NURTURE_DELIVERY_`` (``smtp_host=...`` sets ``smtp.host``), so a test reads like
    the environment it stands for."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "delivery",
        "webhook_secret": SECRET,
        "tracking_secret": TRACKING_SECRET,
        "retry_base_s": 0.2,
        "retry_max_delay_s": 1.0,
        "poll_timeout_ms": 100,
        "rate_per_s": 1000.0,
    }
    values.update(overrides)
    return DeliverySettings(**nested(DeliverySettings, values))


def nested(model: type[BaseSettings], flat: dict[str, Any]) -> dict[str, Any]:
    """``{"smtp_host": h}`` as ``{"smtp": {"host": h}}``: each setting named as its variable
    without the model's prefix, put where the model keeps it."""
    prefix = str(model.model_config.get("env_prefix", ""))
    where = {leaf.variable.removeprefix(prefix).lower(): leaf for leaf in leaves(model)}
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        leaf = where[name]  # a KeyError names a setting the model does not have
        node = tree
        for group in leaf.path:
            node = node.setdefault(group, {})
        node[leaf.name] = value
    return tree


@contextmanager
def running_delivery(
    kafka: KafkaSettings,
    settings: DeliverySettings,
    channel: str = "webhook",
    registry: CollectorRegistry | None = None,
) -> Iterator[None]:
    """Run the delivery loop of ``channel`` in a thread; stop it (like SIGTERM) on exit."""
    metrics = DeliveryMetrics(registry or CollectorRegistry())
    stop = threading.Event()
    errors: list[BaseException] = []
    with ExitStack() as resources:
        loop = build_loop(resources, channel, ProcessParts(settings, kafka, metrics))

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


def test_receiver_answers_in_turn_and_counts() -> None:
    receiver = Receiver(statuses=[503], final_status=204)
    with http_receiver(receiver) as url:
        first = httpx.post(url + "/x", content=b"a")
        second = httpx.post(url + "/x", content=b"b")
    assert (first.status_code, second.status_code) == (503, 204)
    assert [r.body for r in receiver.receptions] == [b"a", b"b"]
