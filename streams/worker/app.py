"""The faust app of `nurture worker`: topics, the candidate table, agents, timers and pages.

Guarantees (docs/worker.md): at-least-once processing (faust commits an offset only after the
batch holding it was processed and the producer flushed the changelog and output), made
exactly-once in *effect* by the event ids the engagement state remembers; one table row per
candidate, co-partitioned with ``candidate.activity``; agent concurrency 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import faust
from prometheus_client import CollectorRegistry

from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, ENGAGEMENT, PROFILE, SUPPRESSION
from streams.campaigns import Engine
from streams.scoring.config import ScoringModel
from streams.worker import aiokafka_seam, faust_seam
from streams.worker.campaigns import CampaignOutput
from streams.worker.changelog_topic import require_changelog_partitions
from streams.worker.dlq import DLQ_FOR
from streams.worker.erasure import ErasureMarks, load_secret
from streams.worker.fetch_tuning import tune_fetcher
from streams.worker.intake import BatchIntake
from streams.worker.kafka_config import faust_broker_options
from streams.worker.liveness import EXIT_STALLED, CommitWatch, crash_process
from streams.worker.metrics import WorkerMetrics
from streams.worker.monitor import LeanMonitor
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor, ProfileProcessor
from streams.worker.runner import Process, StepRunner
from streams.worker.settings import WorkerSettings
from streams.worker.timers import StreamClock, TimerProcessor
from streams.worker.web import register_views
from streams.worker.wire import WorkerCodecs, single_object_codecs

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


@dataclass(frozen=True)
class WorkerInputs:
    """What a worker is built from besides its settings, loaded and checked before it is built.

    ``partitions`` is the partition count of candidate.activity (and of every source topic
    co-partitioned with it). ``output_partitions`` gives the partition count of
    candidate.engagement, the dead-letter topics and (with an ``engine``) nurture.action and
    candidate.suppression (full names), for the default partitioner of their keyed records.
    Without an ``engine`` the worker only scores (no campaigns). ``codecs`` write and read the
    deployment's framing (streams/worker/wire.py; default single-object, the registry mode off).
    """

    model: ScoringModel
    partitions: int
    output_partitions: Mapping[str, int] = field(default_factory=dict)
    engine: Engine | None = None
    codecs: WorkerCodecs = field(default_factory=single_object_codecs)


def build_worker(
    settings: WorkerSettings,
    kafka: KafkaSettings,
    inputs: WorkerInputs,
    *,
    registry: CollectorRegistry | None = None,
) -> Worker:
    """The faust app for ``inputs.partitions`` source partitions (see :class:`WorkerInputs`);
    its metrics in ``registry`` (default: a registry of its own)."""
    model, engine, partitions = inputs.model, inputs.engine, inputs.partitions
    faust_seam.check()  # fail in one line, before anything starts, if faust or aiokafka changed
    aiokafka_seam.check()
    app = _faust_app(settings, kafka, partitions)
    faust_seam.guard_recovery_seeks(app)
    wiring = _Wiring(app, settings, kafka, WorkerMetrics(registry or CollectorRegistry()))
    table = _candidate_table(app, settings, partitions)
    outputs = _outputs(wiring, table, inputs)
    processing = _processing(wiring, model, outputs, engine)
    runner = StepRunner(app, outputs, wiring.metrics)
    _install_agents(wiring, partitions, runner, processing, outputs.changelog)
    watch = watch_liveness(app, kafka, settings, wiring.metrics)
    if processing.timers is not None and settings.clock.source == "wall":
        _install_wall_clock_timers(wiring, runner, processing.timers, watch)

    async def tune_fetches() -> None:
        await tune_fetcher(app, settings.kafka.fetch_min_bytes, settings.kafka.fetch_max_wait_ms)

    app.task(tune_fetches)
    register_views(app, table, model, watch, wiring.metrics.registry)
    return Worker(app=app, table=table, watch=watch, metrics=wiring.metrics)


@dataclass(frozen=True)
class _Wiring:
    """What the worker's parts are built from and installed on."""

    app: Any
    settings: WorkerSettings
    kafka: KafkaSettings
    metrics: WorkerMetrics


@dataclass(frozen=True)
class _Processing:
    """The steps the agents and timers run: scoring, profiles, campaign timers (None: no
    campaigns, or timers on the stream clock inside the scoring steps only)."""

    score: Process
    keep_profile: Process
    timers: TimerProcessor | None


def _faust_app(settings: WorkerSettings, kafka: KafkaSettings, partitions: int) -> Any:
    """The faust app: broker and store options, one batch per poll, the lean monitor."""
    app_id = settings.faust_app_id(kafka.topic_prefix)
    return faust.App(
        app_id,
        **faust_broker_options(kafka),
        autodiscover=False,
        store=settings.store.url,
        datadir=str(settings.store.data_dir / app_id),
        topic_partitions=partitions,
        topic_replication_factor=kafka.topic_replication or 1,  # run.py sets it
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=settings.store.standby_replicas,
        broker_max_poll_records=settings.kafka.batch_size,
        broker_commit_interval=settings.kafka.commit_interval_s,
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_heartbeat_interval=settings.kafka.session_timeout_s / 5,
        consumer_group_instance_id=settings.kafka.group_instance_id,
        producer_linger_ms=settings.kafka.linger_ms,
        producer_max_batch_size=settings.kafka.producer_batch,
        producer_acks=-1,
        web_enabled=True,
        web_port=settings.web_port,
        web_host=settings.web_host,
        canonical_url=settings.web_url,
        key_serializer="raw",
        value_serializer="raw",
        monitor=LeanMonitor(),
    )


def _candidate_table(app: Any, settings: WorkerSettings, partitions: int) -> Any:
    """The candidate table: one row per candidate, keyed by the candidate id's bytes."""
    return app.Table(
        TABLE_NAME,
        partitions=partitions,
        key_type=bytes,  # raw key bytes = the candidate id, as producers key the events
        value_type=bytes,  # orjson rows (streams/worker/rows.py)
        options={"driver": "rocksdict"} if settings.store.url.startswith("rocksdb") else None,
        help="One row per candidate: engagement state and profile (streams/worker/rows.py).",
    )


def _outputs(wiring: _Wiring, table: Any, inputs: WorkerInputs) -> Outputs:
    """The table and the output topics; candidate.suppression only with campaigns."""
    kafka, changelog = wiring.kafka, table.changelog_topic.get_topic_name()
    return Outputs(
        table=table,
        changelog=changelog,
        engagement=kafka.topic(ENGAGEMENT),
        dlq={kafka.topic(src): kafka.topic(dlq) for src, dlq in DLQ_FOR.items()},
        partitions={changelog: inputs.partitions, **inputs.output_partitions},
        metrics=wiring.metrics,
        erasure=ErasureMarks(_erasure_secret(wiring.settings)),
        suppression=kafka.topic(SUPPRESSION) if inputs.engine is not None else None,
        codecs=inputs.codecs,
    )


def _processing(
    wiring: _Wiring, model: ScoringModel, outputs: Outputs, engine: Engine | None
) -> _Processing:
    """The processors over ``outputs``, with the campaign engine when there is one."""
    settings, metrics = wiring.settings, wiring.metrics
    campaigns = (
        None
        if engine is None
        else CampaignOutput(
            engine, wiring.kafka.topic(ACTION), metrics, model.version, codecs=outputs.codecs
        )
    )
    timers = None if campaigns is None else TimerProcessor(outputs, campaigns)
    stream_clock = (
        StreamClock(timers) if timers is not None and settings.clock.source == "stream" else None
    )
    limit = settings.max_record_bytes
    return _Processing(
        score=ActivityProcessor(
            model, outputs, campaigns, stream_clock=stream_clock, max_record_bytes=limit
        ).process,
        keep_profile=ProfileProcessor(outputs, campaigns, max_record_bytes=limit).process,
        timers=timers,
    )


def _install_agents(
    wiring: _Wiring, partitions: int, runner: StepRunner, processing: _Processing, changelog: str
) -> None:
    """The two agents (activity in batches, profiles), the batch intake and the rebalance
    hooks that keep steps and changelog partitions safe."""
    app, settings, kafka = wiring.app, wiring.settings, wiring.kafka
    activity_topic, profile_topic = kafka.topic(ACTIVITY), kafka.topic(PROFILE)
    batch, within = settings.kafka.batch_size, settings.kafka.batch_within_s
    score, keep_profile = processing.score, processing.keep_profile

    async def score_activity(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            await runner.run_batch(score, [event.message for event in events])

    async def keep_profiles(stream: Any) -> None:
        async for events in stream.take_events(PROFILE_BATCH, within=within):
            await runner.run_batch(keep_profile, [event.message for event in events])

    if settings.ingest == "batch":
        # The agent keeps the topic subscribed; its records reach `score` in whole fetches.
        BatchIntake(
            app,
            activity_topic,
            partial(runner.run_batch, score, check_owned=False),
            wiring.metrics,
            streamed=frozenset({profile_topic}),
        ).install()
    # A revocation waits for the step in flight (a timer tick is not a tracked message): no
    # row of a partition may reach the changelog once its next owner may be restoring it.
    app.on_partitions_revoked.connect(cast(Any, runner.on_partitions_revoked))  # mode: untyped
    # No partition is processed without its changelog partition (its rows' only source).
    require_changelog_partitions(app, (activity_topic, profile_topic), changelog)
    # Decorators applied as calls: faust is untyped, and mypy --strict refuses untyped decorators.
    activity = app.topic(activity_topic, partitions=partitions, internal=False)
    profile = app.topic(profile_topic, partitions=partitions, internal=False)
    app.agent(activity, name="score-activity", concurrency=1)(score_activity)
    app.agent(profile, name="keep-profiles", concurrency=1)(keep_profiles)


def _install_wall_clock_timers(
    wiring: _Wiring, runner: StepRunner, timers: TimerProcessor, watch: CommitWatch
) -> None:
    """Campaign timers on the wall clock, every ``timer_interval_s``, unless the worker is
    rebalancing or recovering (the stream clock runs inside the activity batches instead)."""
    app, activity_topic = wiring.app, wiring.kafka.topic(ACTIVITY)

    def paused() -> bool:
        consumer: Any = app.consumer
        return watch.busy() or not consumer.flow_active

    async def tick_timers() -> None:
        if not paused():
            await runner.run_timers(timers, activity_topic, time.time_ns() // 1000, paused)

    app.timer(interval=wiring.settings.clock.timer_interval_s)(tick_timers)


def _erasure_secret(settings: WorkerSettings) -> bytes:
    if settings.erasure.secret is not None:
        return settings.erasure.secret.get_secret_value().encode()
    return load_secret(settings.erasure.secret_file)


#: Seconds a rebalance may take past the broker's rebalance timeout until its assignment is
#: done (the sync and faust's assignment callback, on a loaded machine).
REBALANCE_MARGIN_S = 30.0


def watch_liveness(
    app: Any, kafka: KafkaSettings, settings: WorkerSettings, metrics: WorkerMetrics
) -> CommitWatch:
    """Every few seconds: publish lag and commit age, and exit when commits stalled while
    records waited, or a rebalance never reached its assignment (streams/worker/liveness.py)."""
    watch = CommitWatch(
        app,
        frozenset({kafka.topic(ACTIVITY), kafka.topic(PROFILE)}),
        settings.stall_timeout_s,
        # The group coordinator drops a member that has not rejoined within the rebalance
        # timeout; a worker still waiting well after that is stuck (liveness.py, guard 3).
        rebalance_limit_s=app.conf.broker_rebalance_timeout
        + max(REBALANCE_MARGIN_S, 2 * app.conf.broker_session_timeout),
    )
    app.on_partitions_assigned.connect(cast(Any, watch.assigned))

    async def watch_commits() -> None:
        healthy = watch.check()
        metrics.last_commit.set(time.time() - (time.monotonic() - watch.last_progress))
        metrics.lag.set(sum(watch.lag().values()))
        if not healthy:
            crash_process(f"no commit progress for {settings.stall_timeout_s}s", EXIT_STALLED)
        stuck = watch.rebalance_stuck()
        if stuck is not None:
            crash_process(f"a rebalance has waited {stuck:.0f}s for its assignment", EXIT_STALLED)

    app.timer(interval=WATCH_INTERVAL_S)(watch_commits)
    return watch
