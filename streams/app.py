"""The faust app of `nurture worker`: topics, the candidate table, agents, timers and pages.

Guarantees (docs/worker.md): at-least-once processing (faust commits an offset only after the
batch holding it was processed and the producer flushed the changelog and output), made
exactly-once in *effect* by the event ids the engagement state remembers; one table row per
candidate, co-partitioned with ``candidate.activity``; agent concurrency 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ENGAGEMENT, PROFILE
from streams.dlq import DLQ_FOR
from streams.metrics import WorkerMetrics
from streams.scoring.config import ScoringModel
from streams.settings import WorkerSettings
from streams.worker.kafka_config import faust_broker_options
from streams.worker.liveness import EXIT_STALLED, CommitWatch, crash_process
from streams.worker.processor import ActivityProcessor, Outputs, ProfileProcessor
from streams.worker.web import register_views

log = logging.getLogger(__name__)

#: Name of the candidate table; its changelog is ``<app id>-candidates-changelog``.
TABLE_NAME = "candidates"
#: How often the commit watch looks at the offsets (seconds).
WATCH_INTERVAL_S = 5.0
#: Profile records are few; smaller batches keep their latency low.
PROFILE_BATCH = 100


@dataclass
class Worker:
    """A built (not yet started) worker: the faust app and what the tests and CLI reach into."""

    app: Any
    table: Any
    watch: CommitWatch
    metrics: WorkerMetrics


def build_worker(
    settings: WorkerSettings,
    kafka: KafkaSettings,
    model: ScoringModel,
    *,
    partitions: int,
    registry: CollectorRegistry | None = None,
) -> Worker:
    """The faust app for ``partitions`` source partitions (the count of candidate.activity)."""
    app_id = settings.faust_app_id(kafka.topic_prefix)
    app = faust.App(
        app_id,
        **faust_broker_options(kafka),
        autodiscover=False,
        store=settings.store,
        datadir=str(settings.data_dir / app_id),
        topic_partitions=partitions,
        topic_replication_factor=kafka.topic_replication,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_s,
        producer_linger_ms=settings.linger_ms,
        producer_max_batch_size=settings.producer_batch,
        producer_acks=-1,
        web_enabled=True,
        web_port=settings.web_port,
        web_host=settings.web_host,
        canonical_url=settings.web_url,
        key_serializer="raw",
        value_serializer="raw",
    )
    metrics = WorkerMetrics(registry or CollectorRegistry())

    def source(name: str) -> Any:
        return app.topic(kafka.topic(name), partitions=partitions, internal=False)

    activity, profile = source(ACTIVITY), source(PROFILE)
    table = app.Table(
        TABLE_NAME,
        partitions=partitions,
        key_type=bytes,  # raw key bytes = the candidate id, as producers key the events
        value_type=bytes,  # orjson rows (streams/worker/rows.py)
        options={"driver": "rocksdict"} if settings.store.startswith("rocksdb") else None,
        help="One row per candidate: engagement state and profile (streams/worker/rows.py).",
    )
    outputs = Outputs(
        table=table,
        engagement=app.topic(kafka.topic(ENGAGEMENT), internal=False),
        dlq={
            kafka.topic(src): app.topic(kafka.topic(dlq), internal=False)
            for src, dlq in DLQ_FOR.items()
        },
        metrics=metrics,
    )
    score = ActivityProcessor(model, outputs).process
    keep_profile = ProfileProcessor(outputs).process
    batch, within = settings.batch_size, settings.batch_within_s

    @app.agent(activity, name="score-activity", concurrency=1)
    async def score_activity(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            _guarded(score, events, metrics)

    @app.agent(profile, name="keep-profiles", concurrency=1)
    async def keep_profiles(stream: Any) -> None:
        async for events in stream.take_events(PROFILE_BATCH, within=within):
            _guarded(keep_profile, events, None)

    watch = CommitWatch(
        app, frozenset({kafka.topic(ACTIVITY), kafka.topic(PROFILE)}), settings.stall_timeout_s
    )

    async def watch_commits() -> None:
        healthy = watch.check()
        metrics.last_commit.set(time.time() - (time.monotonic() - watch.last_progress))
        metrics.lag.set(sum(watch.lag().values()))
        if not healthy:
            crash_process(f"no commit progress for {settings.stall_timeout_s}s", EXIT_STALLED)

    app.timer(interval=WATCH_INTERVAL_S)(watch_commits)
    register_views(app, table, model, watch, metrics.registry)
    return Worker(app=app, table=table, watch=watch, metrics=metrics)


def _guarded(
    process: Callable[[Sequence[Any]], None], events: Sequence[Any], metrics: WorkerMetrics | None
) -> None:
    """Run a batch; any exception ends the process before faust can ack the batch."""
    started = time.perf_counter()
    try:
        process(events)
    except Exception as exc:
        log.exception("batch of %d events failed", len(events))
        crash_process(f"agent failed on a batch: {type(exc).__name__}: {exc}")
    if metrics is not None:
        metrics.batch_seconds.observe(time.perf_counter() - started)
