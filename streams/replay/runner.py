"""Running a replay: partitions shared among processes, outputs published, progress reported.

Each process takes whole partitions (a candidate's records are all in one partition, so
partitions are independent), reads them through the Kafka seam's reader, applies them with
:class:`~streams.replay.processing.ReplayProcessor` and publishes what the live worker would:
actions as they are decided, then per partition the final changelog row and engagement record
of every candidate, and the final unsubscribes of those that have any (compacted topics keep
only the last record per key anyway).
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from schemas.kafka_seam import clients
from schemas.kafka_seam.proto import TopicReader
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, ACTIVITY_DLQ, ENGAGEMENT, PROFILE, PROFILE_DLQ
from streams.replay.counts import ReplayCounts
from streams.replay.errors import ReplayError
from streams.replay.offsets import PartitionRange
from streams.replay.processing import REBUILD_OPTIONS, ReplayOptions, ReplayProcessor, Topics
from streams.replay.reader import merged, read_range, topic_reader
from streams.scoring.config import load_model
from streams.worker.campaigns import build_engine
from streams.worker.erasure import ErasureMarks, load_secret
from streams.worker.gc_tuning import tune_gc
from streams.worker.kafka_config import topic_partitions
from streams.worker.settings import WorkerSettings
from streams.worker.wire import WorkerCodecs, registry_codecs, single_object_codecs

#: How replay processes start: ``fork`` shares the parent's imports (faust, the codecs), which
#: ``spawn`` would spend seconds per process re-importing; the parent holds no Kafka client
#: while it forks (every client is made inside the child).
START_METHOD: Final = "fork"
#: Records between two progress reports of a process.
PROGRESS_EVERY = 2_000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class OutputTopics:
    """Where a replay publishes (full topic names; None: not published)."""

    engagement: str | None
    action: str | None
    #: The table's changelog; rows go to the partition they were read from.
    changelog: str | None = None
    #: ``candidate.suppression``: each candidate's final unsubscribes (with campaigns).
    suppression: str | None = None


@dataclass(frozen=True)
class ConfigFiles:
    """The scoring model, campaigns and catalog a replay runs (None: the packaged ones)."""

    model: Path | None = None
    campaigns: Path | None = None
    catalog: Path | None = None

    @classmethod
    def of(cls, worker: WorkerSettings) -> ConfigFiles:
        """The files of a worker with these settings."""
        return cls(worker.model_path, worker.campaigns.path, worker.campaigns.catalog_path)


@dataclass(frozen=True)
class ReplaySpec:
    """Everything a replay process needs (picklable, so any start method works)."""

    kafka: KafkaSettings
    outputs: OutputTopics
    #: Key of the erased-candidate markers: the live worker's (see :func:`erasure_secret`).
    erasure_secret: bytes
    #: Partition count of every topic the processors write to (full names).
    partitions: dict[str, int]
    files: ConfigFiles = ConfigFiles()
    #: False: score only, like a worker without campaigns.
    campaigns: bool = True
    options: ReplayOptions = REBUILD_OPTIONS

    def codecs(self) -> WorkerCodecs:
        """The worker's codecs for this replay's framing (``options.schema_registry``); in
        registry mode the output schemas' ids are looked up now: ConfigError when one is not
        registered, SchemaRegistryUnavailableError when the registry does not answer."""
        registry = self.options.schema_registry
        if registry is None or not registry.enabled:
            return single_object_codecs()
        return registry_codecs(registry, topic_prefix=self.kafka.topic_prefix)

    def topics(self, codecs: WorkerCodecs | None = None) -> Topics:
        """The names the processors write to (placeholders for outputs not published), and
        ``codecs`` to write and read with (None: single-object)."""
        kafka, outputs = self.kafka, self.outputs
        return Topics(
            activity=kafka.topic(ACTIVITY),
            profile=kafka.topic(PROFILE),
            changelog=outputs.changelog or UNPUBLISHED_CHANGELOG,
            engagement=outputs.engagement or kafka.topic(ENGAGEMENT),
            action=outputs.action or kafka.topic(ACTION),
            activity_dlq=kafka.topic(ACTIVITY_DLQ),
            profile_dlq=kafka.topic(PROFILE_DLQ),
            partitions=self.partitions,
            suppression=outputs.suppression,
            codecs=codecs,
        )


#: Changelog name of replays that publish no table (shadow runs, the diff's baseline).
UNPUBLISHED_CHANGELOG = "replay-unpublished-changelog"


def replay_spec(
    kafka: KafkaSettings,
    outputs: OutputTopics,
    worker: WorkerSettings,
    files: ConfigFiles,
    options: ReplayOptions = REBUILD_OPTIONS,
) -> ReplaySpec:
    """A spec for replaying into ``outputs`` with the given configuration, and the erasure
    secret and campaigns switch (``NURTURE_WORKER_CAMPAIGNS``) of ``worker``; partition counts
    are looked up on the cluster."""
    live = [kafka.topic(t) for t in (ACTIVITY, ENGAGEMENT, ACTION, ACTIVITY_DLQ, PROFILE_DLQ)]
    published = [
        t for t in (outputs.engagement, outputs.action, outputs.suppression) if t is not None
    ]
    partitions = topic_partitions(kafka, sorted(set(live + published)))
    partitions[outputs.changelog or UNPUBLISHED_CHANGELOG] = partitions[kafka.topic(ACTIVITY)]
    return ReplaySpec(
        kafka=kafka,
        outputs=outputs,
        erasure_secret=erasure_secret(worker),
        partitions=partitions,
        files=files,
        campaigns=worker.campaigns.enabled,
        options=options,
    )


def erasure_secret(worker: WorkerSettings) -> bytes:
    """The key of the live worker's erasure markers (the same setting or file it reads), so a
    replay finds the markers and keeps erased candidates erased."""
    if worker.erasure.secret is not None:
        return worker.erasure.secret.get_secret_value().encode()
    return load_secret(worker.erasure.secret_file)


@dataclass(frozen=True)
class PartitionJob:
    """One partition to replay: its activity and profile ranges and where its window starts."""

    partition: int
    activity: PartitionRange
    profile: PartitionRange
    #: Activity records at or after this offset are in the window (before it: warm-up).
    window_offset: int
    #: Profile records with a timestamp at or after this are in the window (None: all).
    window_ms: int | None = None

    @property
    def size(self) -> int:
        return self.activity.size + self.profile.size


@dataclass
class ReplayResult:
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    triggers: set[str] = field(default_factory=set)


def run_jobs(
    spec: ReplaySpec,
    jobs: Sequence[PartitionJob],
    *,
    processes: int = 1,
    progress: Progress | None = None,
    codecs: WorkerCodecs | None = None,
) -> ReplayResult:
    """Replay ``jobs`` in ``processes`` processes (1: in this one); raise :class:`ReplayError`
    when a process fails (outputs may then be partial: run the replay again, it is idempotent).
    ``codecs``: the spec's, when the caller built them already (each child builds its own)."""
    report = progress or (lambda _n: None)
    groups = _share(jobs, processes)
    if len(groups) <= 1:
        return _run_group(spec, list(jobs), report, codecs or spec.codecs())
    context = multiprocessing.get_context(START_METHOD)
    messages: Any = context.Queue()
    children = [
        context.Process(target=_child, args=(spec, group, messages), daemon=True)
        for group in groups
    ]
    for child in children:
        child.start()
    result, pending, errors = ReplayResult(), len(children), []
    try:
        while pending:
            try:
                kind, payload = messages.get(timeout=1.0)
            except queue.Empty:
                if any(c.exitcode not in (None, 0) for c in children):
                    raise ReplayError("a replay process died (see its output above)") from None
                continue
            if kind == "progress":
                report(payload)
            elif kind == "done":
                pending -= 1
                result.counts.add(ReplayCounts.from_dict(payload["counts"]))
                result.triggers.update(payload["triggers"])
            else:
                pending -= 1
                errors.append(payload)
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    if errors:
        raise ReplayError("replay failed:\n" + "\n".join(errors))
    return result


def _share(jobs: Sequence[PartitionJob], processes: int) -> list[list[PartitionJob]]:
    """Jobs in at most ``processes`` groups of similar size (largest first, to the lightest)."""
    groups: list[list[PartitionJob]] = [[] for _ in range(max(1, min(processes, len(jobs))))]
    loads = [0] * len(groups)
    for job in sorted(jobs, key=lambda j: j.size, reverse=True):
        lightest = loads.index(min(loads))
        groups[lightest].append(job)
        loads[lightest] += job.size
    return [g for g in groups if g]


def _child(spec: ReplaySpec, jobs: list[PartitionJob], messages: Any) -> None:
    tune_gc()  # a process of its own, run like the live worker's (streams/worker/gc_tuning.py)
    try:
        report: Progress = lambda n: messages.put(("progress", n))  # noqa: E731
        result = _run_group(spec, jobs, report, spec.codecs())
        messages.put(
            ("done", {"counts": result.counts.to_dict(), "triggers": sorted(result.triggers)})
        )
    except Exception:
        messages.put(("error", traceback.format_exc()))


def _run_group(
    spec: ReplaySpec, jobs: list[PartitionJob], report: Progress, codecs: WorkerCodecs
) -> ReplayResult:
    files = spec.files
    model = load_model(files.model)
    engine = build_engine(model, files.campaigns, files.catalog) if spec.campaigns else None
    kafka = spec.kafka
    result = ReplayResult()
    sends = SendTracker()
    topics = spec.topics(codecs)
    erasure = ErasureMarks(spec.erasure_secret)
    with topic_reader(kafka, max_partition_fetch_bytes=4 << 20, fetch_max_bytes=16 << 20) as reader:
        producer = clients.producer(kafka, acks="all", linger_ms=20, batch_size=512 * 1024)
        try:
            for job in jobs:
                processor = ReplayProcessor(model, engine, topics, erasure, spec.options)
                _run_partition(reader, sends.wrap(producer), spec.outputs, job, processor, report)
                result.counts.add(processor.counts)
                result.triggers.update(processor.triggers)
            producer.flush()
            sends.check()
        finally:
            producer.close()
    return result


class SendTracker:
    """Counts failed sends (kafka-python's ``flush`` does not raise for them)."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def wrap(self, producer: Any) -> _TrackedProducer:
        """``producer`` (a kafka-python ``KafkaProducer``) with its failed sends counted here."""
        return _TrackedProducer(producer, self)

    def check(self) -> None:
        if self.failures:
            raise ReplayError(
                f"{len(self.failures)} records were not acknowledged by Kafka, e.g. "
                f"{self.failures[0]}; run the replay again (it is idempotent)"
            )


@dataclass
class _TrackedProducer:
    producer: Any  # kafka-python's KafkaProducer, from clients.producer
    tracker: SendTracker

    def send(
        self, topic: str, *, key: bytes, value: bytes | None, partition: int | None = None
    ) -> None:
        future = self.producer.send(topic, key=key, value=value, partition=partition)
        future.add_errback(lambda exc: self.tracker.failures.append(f"{topic}: {exc!r}"))

    def flush(self) -> None:
        self.producer.flush()
        self.tracker.check()


def _run_partition(  # noqa: PLR0913, PLR0917 - the parts of one partition's run
    reader: TopicReader,
    producer: _TrackedProducer,
    outputs: OutputTopics,
    job: PartitionJob,
    processor: ReplayProcessor,
    report: Progress,
) -> None:
    profiles = list(read_range(reader, job.profile))
    unreported = 0
    for source, record in merged(profiles, read_range(reader, job.activity)):
        if source == "activity":
            emit = record.offset >= job.window_offset
        else:
            emit = job.window_ms is None or record.timestamp >= job.window_ms
        processor.add(source, record, emit=emit)
        unreported += 1
        if unreported >= PROGRESS_EVERY:
            _publish_actions(producer, outputs, processor)
            report(unreported)
            unreported = 0
    processor.flush()
    _publish_actions(producer, outputs, processor)
    if outputs.changelog is not None:
        for key, row in processor.changelog.items():
            producer.send(outputs.changelog, key=key, value=row, partition=job.partition)
    if outputs.engagement is not None:
        for key, value in processor.engagement.items():
            producer.send(outputs.engagement, key=key, value=value)
    if outputs.suppression is not None:
        for key, value in processor.suppression.items():
            producer.send(outputs.suppression, key=key, value=value)
    producer.flush()
    report(unreported)


def _publish_actions(
    producer: _TrackedProducer, outputs: OutputTopics, processor: ReplayProcessor
) -> None:
    actions = processor.take_actions()
    if outputs.action is None:
        return
    for key, value in actions:
        producer.send(outputs.action, key=key, value=value)
