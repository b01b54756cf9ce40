"""Build a delivery consumer for one channel from its settings and run it until SIGTERM.

Beside the loop runs its watchdog (:mod:`consumers.liveness`): a loop whose offsets stop
advancing while actions wait is stopped, and the process exits with status 75.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from types import FrameType

from prometheus_client import CollectorRegistry

from consumers.codecs import DeliveryCodecs, registry_codecs
from consumers.email_sender import EmailSender
from consumers.handling import Handler
from consumers.health import serve_health
from consumers.liveness import CommitWatch, StalledError
from consumers.loop import DeliveryLoop, PollSettings
from consumers.metrics import DeliveryMetrics
from consumers.outcome_index import OutcomeIndex
from consumers.profiles import ProfileState
from consumers.publisher import Publisher
from consumers.ratelimit import TokenBucket
from consumers.senders import Sender
from consumers.settings import DeliverySettings
from consumers.store import DeliveryStore
from consumers.suppression import SuppressionState
from consumers.webhook import WebhookSender
from schemas.errors import ConfigError
from schemas.models import CHANNELS
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.stack_dump import add_state_reporter, remove_state_reporter, report_state_on_sigusr1

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
    return f"{kafka.topic_prefix}{settings.kafka.group_prefix}-{channel}"


def run_delivery(
    channel: str,
    settings: DeliverySettings,
    kafka: KafkaSettings,
    schema_registry: SchemaRegistrySettings | None = None,
) -> None:
    """Deliver ``channel``'s actions until SIGTERM or SIGINT, then commit and return.

    Raises :class:`StalledError` when the watchdog stopped the loop (no progress while actions
    waited); if the loop does not even return then, the watchdog ends the process (status 75).
    With ``schema_registry`` set (its URL), outcomes are written in the Confluent wire format:
    :class:`ConfigError` when their schema is not registered, and
    :class:`~schemas.errors.SchemaRegistryUnavailableError` when the registry does not answer,
    both before anything is read.
    """
    if channel not in CHANNELS:
        raise ConfigError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing in-flight work", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    codecs = registry_codecs(
        schema_registry or SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix
    )
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    watch = CommitWatch(settings.kafka.stall_timeout_s)
    finished = threading.Event()
    with ExitStack() as resources:  # closed in reverse order, also when a constructor fails
        if settings.metrics_port is not None:
            server = serve_health(settings.metrics_host, settings.metrics_port, registry, watch)
            resources.callback(server.server_close)
            resources.callback(server.shutdown)
        parts = ProcessParts(settings, kafka, metrics, watch, codecs)
        loop = build_loop(resources, channel, parts)
        add_state_reporter(loop.describe_state)
        resources.callback(remove_state_reporter, loop.describe_state)
        report_state_on_sigusr1()
        # The in-flight record may take a whole send timeout, then flush and commit.
        grace_s = 30.0 + max(settings.smtp.timeout_s, settings.webhook.timeout_s)
        watch.restart()
        threading.Thread(
            target=watch.guard,
            args=(stop, finished),
            kwargs={"interval_s": settings.kafka.liveness_check_s, "grace_s": grace_s},
            name="delivery-watchdog",
            daemon=True,
        ).start()
        try:
            loop.run(stop)
        finally:
            finished.set()
    if watch.stalled is not None:
        raise StalledError(watch.stalled)


@dataclass(frozen=True)
class ProcessParts:
    """What each channel's delivery loop is built from, owned by its process: the delivery and
    Kafka settings, the metrics, the commit watch its watchdog reads (None: no watchdog) and
    the codecs of the deployment's framing (None: built from ``NURTURE_SCHEMA_REGISTRY_*``)."""

    settings: DeliverySettings
    kafka: KafkaSettings
    metrics: DeliveryMetrics
    watch: CommitWatch | None = None
    codecs: DeliveryCodecs | None = None


def build_loop(resources: ExitStack, channel: str, parts: ProcessParts) -> DeliveryLoop:
    """Wire the delivery loop of ``channel``; every part is closed when ``resources`` closes."""
    settings, kafka, metrics, watch = parts.settings, parts.kafka, parts.metrics, parts.watch
    codecs = parts.codecs or registry_codecs(
        SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix
    )
    store = DeliveryStore(settings.data_dir, channel)
    resources.callback(store.close)
    sender = build_sender(channel, settings, store)
    resources.callback(sender.close)
    profiles = ProfileState(kafka, codecs=codecs)
    resources.callback(profiles.close)
    suppressions = SuppressionState(kafka, codecs=codecs)
    resources.callback(suppressions.close)
    done_elsewhere = OutcomeIndex(kafka, channel, codecs=codecs)
    resources.callback(done_elsewhere.close)
    publisher = Publisher(kafka)
    resources.callback(publisher.close)
    handler = Handler(
        channel=channel,
        settings=settings,
        store=store,
        profiles=profiles,
        suppressions=suppressions,
        done_elsewhere=done_elsewhere,
        publisher=publisher,
        sender=sender,
        bucket=TokenBucket(settings.rate.per_s, settings.rate.burst),
        metrics=metrics,
        codecs=codecs,
    )
    loop = DeliveryLoop(
        kafka,
        group_id(kafka, settings, channel),
        handler,
        PollSettings(
            poll_timeout_ms=settings.kafka.poll_timeout_ms,
            max_poll_records=settings.kafka.max_poll_records,
            max_poll_interval_s=settings.kafka.max_poll_interval_s,
            rebalance_limit_s=settings.kafka.rebalance_limit_s,
        ),
        watch=watch,
    )
    resources.callback(loop.close)
    return loop
