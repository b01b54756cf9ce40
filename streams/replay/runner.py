"""Running a replay: partitions shared among processes, outputs published, progress reported.

Each process takes whole partitions (a candidate's records are all in one partition, so
partitions are independent), reads them with kafka-python, applies them with
:class:`~streams.replay.processing.ReplayProcessor` and publishes what the live worker would:
actions as they are decided, then per partition the final changelog row and engagement record
of every candidate (compacted topics keep only the last record per key anyway).
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from schemas.settings import KafkaSettings
from streams.replay.counts import ReplayCounts
from streams.replay.errors import ReplayError
from streams.replay.offsets import PartitionRange
from streams.replay.processing import DEFAULT_CHUNK, ReplayProcessor
from streams.replay.reader import merged, read_range
from streams.scoring.config import load_model
from streams.worker.campaigns import build_engine

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


@dataclass(frozen=True)
class ReplaySpec:
    """Everything a replay process needs (picklable: processes are spawned)."""

    kafka: KafkaSettings
    outputs: OutputTopics
    model_path: Path | None = None
    campaigns_path: Path | None = None
    catalog_path: Path | None = None
    #: False: score only, like a worker without campaigns.
    campaigns: bool = True
    replay_flag: bool = True
    collect_triggers: bool = False
    chunk: int = DEFAULT_CHUNK


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
) -> ReplayResult:
    """Replay ``jobs`` in ``processes`` processes (1: in this one); raise :class:`ReplayError`
    when a process fails (outputs may then be partial: run the replay again, it is idempotent)."""
    report = progress or (lambda _n: None)
    groups = _share(jobs, processes)
    if len(groups) <= 1:
        return _run_group(spec, list(jobs), report)
    context = multiprocessing.get_context("spawn")
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
    try:
        result = _run_group(spec, jobs, lambda n: messages.put(("progress", n)))
        messages.put(
            ("done", {"counts": result.counts.to_dict(), "triggers": sorted(result.triggers)})
        )
    except Exception:
        messages.put(("error", traceback.format_exc()))


def _run_group(spec: ReplaySpec, jobs: list[PartitionJob], report: Progress) -> ReplayResult:
    model = load_model(spec.model_path)
    engine = build_engine(model, spec.campaigns_path, spec.catalog_path) if spec.campaigns else None
    kafka = spec.kafka
    consumer = KafkaConsumer(
        **kafka.kafka_python_config(),
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=16 << 20,
    )
    producer = KafkaProducer(
        **kafka.kafka_python_config(), acks="all", linger_ms=20, batch_size=512 * 1024
    )
    result = ReplayResult()
    sends = SendTracker()
    try:
        for job in jobs:
            processor = ReplayProcessor(
                model,
                engine,
                replay_flag=spec.replay_flag,
                collect_triggers=spec.collect_triggers,
                chunk=spec.chunk,
            )
            _run_partition(consumer, sends.wrap(producer), spec.outputs, job, processor, report)
            result.counts.add(processor.counts)
            result.triggers.update(processor.triggers)
        producer.flush()
        sends.check()
    finally:
        producer.close()
        consumer.close()
    return result


class SendTracker:
    """Counts failed sends (kafka-python's ``flush`` does not raise for them)."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def wrap(self, producer: KafkaProducer) -> _TrackedProducer:
        return _TrackedProducer(producer, self)

    def check(self) -> None:
        if self.failures:
            raise ReplayError(
                f"{len(self.failures)} records were not acknowledged by Kafka, e.g. "
                f"{self.failures[0]}; run the replay again (it is idempotent)"
            )


@dataclass
class _TrackedProducer:
    producer: KafkaProducer
    tracker: SendTracker

    def send(
        self, topic: str, *, key: bytes, value: bytes | None, partition: int | None = None
    ) -> None:
        future = self.producer.send(topic, key=key, value=value, partition=partition)
        future.add_errback(lambda exc: self.tracker.failures.append(f"{topic}: {exc!r}"))

    def flush(self) -> None:
        self.producer.flush()
        self.tracker.check()


def _run_partition(  # noqa: PLR0917 - the parts of one partition's run
    consumer: KafkaConsumer,
    producer: _TrackedProducer,
    outputs: OutputTopics,
    job: PartitionJob,
    processor: ReplayProcessor,
    report: Progress,
) -> None:
    profiles = list(read_range(consumer, job.profile))
    unreported = 0
    for source, record in merged(profiles, read_range(consumer, job.activity)):
        if source == "activity":
            emit = record.offset >= job.window_offset
            processor.activity(record.key, record.value, record.partition, record.offset, emit=emit)
        else:
            emit = job.window_ms is None or record.timestamp >= job.window_ms
            processor.profile(record.key, record.value, emit=emit)
        unreported += 1
        if unreported >= PROGRESS_EVERY:
            _publish_actions(producer, outputs, processor)
            report(unreported)
            unreported = 0
    processor.flush()
    _publish_actions(producer, outputs, processor)
    if outputs.changelog is not None:
        for key, row in processor.rows.items():
            producer.send(outputs.changelog, key=key, value=row, partition=job.partition)
    if outputs.engagement is not None:
        for key, record in processor.engagement.items():
            producer.send(outputs.engagement, key=key, value=record)
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
