"""Start a worker process: load and check everything first, then hand over to faust."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import NoReturn

import faust

from schemas.kafka_seam import topic_admin
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.stack_dump import dump_tasks_on_sigusr1
from schemas.topics import ACTION, ENGAGEMENT, SUPPRESSION
from streams.scoring.config import load_model
from streams.worker.app import WorkerInputs, build_worker
from streams.worker.campaigns import build_engine
from streams.worker.changelog_topic import ensure_changelog
from streams.worker.dlq import DLQ_FOR
from streams.worker.gc_tuning import tune_gc
from streams.worker.kafka_config import source_partitions, topic_partitions
from streams.worker.settings import WorkerSettings
from streams.worker.wire import registry_codecs


def run_worker(
    settings: WorkerSettings, kafka: KafkaSettings, registry: SchemaRegistrySettings
) -> None:
    """Run until stopped (SIGTERM/SIGINT); never returns (faust exits the process).

    Raises :class:`~schemas.errors.ConfigError` *before* starting when the model, campaign or
    catalog files are invalid, the source topics are missing or not co-partitioned, or (in
    Schema Registry mode) a schema the worker writes is not registered;
    :class:`~schemas.errors.SchemaRegistryUnavailableError` when the registry does not answer.
    """
    codecs = registry_codecs(registry, topic_prefix=kafka.topic_prefix)
    model = load_model(settings.model_path)
    engine = (
        build_engine(model, settings.campaigns.path, settings.campaigns.catalog_path)
        if settings.campaigns.enabled
        else None
    )
    partitions = source_partitions(kafka)
    # faust creates its own internal topics (the assignor's) with this: as many copies as ours.
    kafka = kafka.model_copy(update={"topic_replication": topic_admin.cluster_replication(kafka)})
    outputs = [
        kafka.topic(ENGAGEMENT),
        kafka.topic(ACTION),
        kafka.topic(SUPPRESSION),
        *(kafka.topic(dlq) for dlq in DLQ_FOR.values()),
    ]
    inputs = WorkerInputs(
        model,
        partitions,
        output_partitions=topic_partitions(kafka, outputs),
        engine=engine,
        codecs=codecs,
    )
    worker = build_worker(settings, kafka, inputs)
    # Before faust starts: the group leader must know the changelog when it first assigns.
    ensure_changelog(kafka, worker.table.changelog_topic.get_topic_name(), partitions)
    settings.store.data_dir.mkdir(parents=True, exist_ok=True)
    tune_gc()  # see streams/worker/gc_tuning.py: 12-28% of the scoring throughput
    try:
        FaustWorker(
            worker.app,
            loglevel=settings.log_level,
            quiet=True,
            redirect_stdouts=False,
        ).execute_from_commandline()
    except SystemExit as stopped:
        end_process(stopped.code)


def end_process(code: object) -> NoReturn:
    """End the process once faust has stopped, whatever threads are left.

    faust stops its consumer thread's event loop on the way out, but under chaos runs that
    thread once outlived the stop (its loop still running after everything was committed and
    closed), and Python waits for every such thread at exit: the worker never ended. Nothing is
    left to save by then (offsets committed, producer flushed, tables closed; and a SIGKILL at
    this point loses nothing either), so the process ends here with faust's exit status.
    """
    status = code if isinstance(code, int) else (0 if code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class FaustWorker(faust.Worker):
    """faust's worker, with SIGUSR1 left to the all-thread stack dump every nurture process has,
    followed by the event loop's task stacks.

    mode's own SIGUSR1 handler runs on the event loop only (so it prints nothing when the loop
    is stuck) and dumps every frame's local variables into the log.
    """

    def install_signal_handlers(self) -> None:
        super().install_signal_handlers()
        if self.loop.remove_signal_handler(signal.SIGUSR1):
            dump_tasks_on_sigusr1(self.loop)
