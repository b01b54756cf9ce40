"""`nurture replay rebuild`: rebuild the worker's table and outputs from the source topics.

Steps, each safe to run again if the rebuild is interrupted (run the whole rebuild again
before starting a worker):

1. refuse while the worker's consumer group has active members;
2. plan the ranges: activity from ``--from`` (``offsets_for_times``) or the beginning, profiles
   from the beginning, both to the current end (fixed now);
3. in Schema Registry mode, look up the output schemas' ids (an unregistered schema or a
   registry that does not answer stops the rebuild here, before anything is deleted);
4. delete and re-create the table's changelog (``<app id>-candidates-changelog``) and remove the
   local store under ``--data-dir``;
5. replay (see :mod:`streams.replay.runner`): final rows to the changelog, final engagement
   records to ``candidate.engagement``, each candidate's final unsubscribes to
   ``candidate.suppression`` (with campaigns), actions with ``replay: true`` to
   ``nurture.action``, in the deployment's framing;
6. set the group's committed offsets to the planned ends (refused if a worker joined meanwhile).

A worker started afterwards recovers its table from the changelog and goes on from those offsets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ENGAGEMENT, SUPPRESSION
from streams.replay.counts import ReplayCounts
from streams.replay.planning import end_offsets, plan_jobs
from streams.replay.processing import ReplayOptions
from streams.replay.reset import clear_local_store, commit_offsets, ensure_idle, recreate_topic
from streams.replay.runner import (
    ConfigFiles,
    OutputTopics,
    PartitionJob,
    Progress,
    replay_spec,
    run_jobs,
)
from streams.worker.app import TABLE_NAME
from streams.worker.settings import WorkerSettings


def changelog_topic(app_id: str) -> str:
    """faust's changelog topic of the worker's table for the (prefixed) ``app_id``."""
    return f"{app_id}-{TABLE_NAME}-changelog"


@dataclass
class RebuildReport:
    group: str
    changelog: str
    cleared_store: Path | None
    counts: ReplayCounts
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.counts.records / self.seconds if self.seconds > 0 else 0.0


def plan_rebuild(
    kafka: KafkaSettings, worker: WorkerSettings, from_ms: int | None
) -> list[PartitionJob]:
    """Check the group is idle and plan the ranges (nothing is changed yet)."""
    ensure_idle(kafka, worker.faust_app_id(kafka.topic_prefix))
    return plan_jobs(kafka, from_ms=from_ms, to_ms=None, warm_up=False)


def rebuild(  # noqa: PLR0913 - the worker's settings and framing, processes, progress
    kafka: KafkaSettings,
    worker: WorkerSettings,
    jobs: list[PartitionJob],
    *,
    processes: int = 1,
    progress: Progress | None = None,
    schema_registry: SchemaRegistrySettings | None = None,
) -> RebuildReport:
    """Reset the worker's state and reprocess ``jobs`` (from :func:`plan_rebuild`), writing
    the framing of ``schema_registry`` (None or no URL: single-object) as the worker does."""
    group = worker.faust_app_id(kafka.topic_prefix)
    changelog = changelog_topic(group)
    ensure_idle(kafka, group)
    spec = replay_spec(
        kafka,
        OutputTopics(
            engagement=kafka.topic(ENGAGEMENT),
            action=kafka.topic(ACTION),
            changelog=changelog,
            suppression=kafka.topic(SUPPRESSION),
        ),
        worker,
        ConfigFiles.of(worker),
        ReplayOptions(schema_registry=schema_registry),
    )
    codecs = spec.codecs()  # before anything is deleted: an unregistered schema stops it here
    recreate_topic(kafka, changelog, partitions=len(jobs))
    cleared = clear_local_store(worker.store.data_dir, group)
    started = time.perf_counter()
    result = run_jobs(spec, jobs, processes=processes, progress=progress, codecs=codecs)
    seconds = time.perf_counter() - started
    ensure_idle(kafka, group)
    commit_offsets(kafka, group, end_offsets(jobs))
    return RebuildReport(group, changelog, cleared, result.counts, seconds)
