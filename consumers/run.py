"""Build a delivery consumer for one channel from its settings and run it until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import ExitStack
from types import FrameType

from prometheus_client import CollectorRegistry, start_http_server

from consumers.email_sender import EmailSender
from consumers.handling import Handler
from consumers.loop import DeliveryLoop
from consumers.metrics import DeliveryMetrics
from consumers.outcome_index import OutcomeIndex
from consumers.profiles import ProfileState
from consumers.publisher import Publisher
from consumers.ratelimit import TokenBucket
from consumers.senders import Sender
from consumers.settings import DeliverySettings
from consumers.store import DeliveryStore
from consumers.webhook import WebhookSender
from schemas.errors import ConfigError
from schemas.models import CHANNELS
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

WEBHOOK_CHANNELS = frozenset({"webhook", "ad_audience", "recruiter_alert"})
EMAIL_CHANNELS = frozenset({"email", "career_event_invite"})


def build_sender(channel: str, settings: DeliverySettings, store: DeliveryStore) -> Sender:
    """The sender of ``channel`` (ConfigError for an unknown channel)."""
    if channel in WEBHOOK_CHANNELS:
        return WebhookSender(settings, store)
    if channel in EMAIL_CHANNELS:
        return EmailSender(settings)
    raise ConfigError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")


def group_id(kafka: KafkaSettings, settings: DeliverySettings, channel: str) -> str:
    """The consumer group of a channel: one per channel, prefixed like the topics."""
    return f"{kafka.topic_prefix}{settings.group_prefix}-{channel}"


def run_delivery(channel: str, settings: DeliverySettings, kafka: KafkaSettings) -> None:
    """Deliver ``channel``'s actions until SIGTERM or SIGINT, then commit and return."""
    if channel not in CHANNELS:
        raise ConfigError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing in-flight work", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    with ExitStack() as resources:  # closed in reverse order, also when a constructor fails
        build_loop(resources, channel, settings, kafka, metrics).run(stop)


def build_loop(
    resources: ExitStack,
    channel: str,
    settings: DeliverySettings,
    kafka: KafkaSettings,
    metrics: DeliveryMetrics,
) -> DeliveryLoop:
    """Wire the delivery loop of ``channel``; every part is closed when ``resources`` closes."""
    store = DeliveryStore(settings.data_dir, channel)
    resources.callback(store.close)
    sender = build_sender(channel, settings, store)
    resources.callback(sender.close)
    profiles = ProfileState(kafka)
    resources.callback(profiles.close)
    done_elsewhere = OutcomeIndex(kafka, channel)
    resources.callback(done_elsewhere.close)
    publisher = Publisher(kafka)
    resources.callback(publisher.close)
    handler = Handler(
        channel=channel,
        settings=settings,
        store=store,
        profiles=profiles,
        done_elsewhere=done_elsewhere,
        publisher=publisher,
        sender=sender,
        bucket=TokenBucket(settings.rate_per_s, settings.rate_burst),
        metrics=metrics,
    )
    loop = DeliveryLoop(
        kafka,
        group_id(kafka, settings, channel),
        handler,
        poll_timeout_ms=settings.poll_timeout_ms,
    )
    resources.callback(loop.close)
    return loop
