"""`nurture bench worker`: how fast one worker scores, against the raw consumer ceiling.

All on the local broker, on a fresh topic prefix (topics deleted afterwards), in one run:

a. **ceiling**: an aiokafka consumer reading candidate.activity from the start and Avro-decoding
   every record as fast as it can (no state, no output);
b. **worker**: one `nurture worker` process (its own interpreter, RocksDB store) scoring the same
   events end to end (table, changelog, engagement output), timed from its start until its
   committed offsets reach the end of the topic; the rate after its first commit is shown too.
   Twice: scoring only (``NURTURE_WORKER_CAMPAIGNS=false``: what the scoring issue's target is
   about) and the default worker with the campaign engine (actions, timers), on the same events;
   with ``processes`` > 1, also N scoring worker processes in one group sharing the partitions
   (how a worker scales out on one host; reported beside the one-process figures, which the
   targets are about);
   With a schema registry (``BenchOptions.registry``), the scoring-only run again on the same
   events Confluent-framed, by a worker in Schema Registry mode (:mod:`streams.bench.framings`);
c. **latency**: with the default worker caught up, events produced at a steady rate (2,000/s),
   each timed from its send to the arrival of the engagement record it produced (p50/p99).

Targets: scoring (b) >= 50% of (a) and >= 20,000 events/s; (c) p99 < 100 ms. The events are
live traffic (times of the last hours), so the wall-clock campaign timers have no backlog.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from schemas.codec import activity_codec
from schemas.kafka_seam import clients, topic_admin
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from streams.bench.framings import confluent_scoring, registry_mode_env, report_framings
from streams.bench.latency import latency_to_engagement
from streams.bench.loadgen import encoded_events, live_spec, publish
from streams.worker.probe import (
    WorkerGroup,
    WorkerProcess,
    free_port,
    group_lag,
    wait_caught_up,
)

TARGET_SHARE = 0.5
TARGET_RATE = 20_000.0
TARGET_P99_MS = 100.0

Report = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    events: int = 200_000
    candidates: int = 20_000
    latency_rate: float = 2_000.0
    latency_seconds: float = 15.0
    #: Scoring worker processes of the scale-out run (1: no such run).
    processes: int = 1
    #: The registry of the Confluent-framed scoring run (None: no such run).
    registry: SchemaRegistrySettings | None = None


def bench_worker(kafka: KafkaSettings, options: BenchOptions, report: Report) -> dict[str, float]:
    """Run (a), (b) and (c); print and return the figures."""
    settings = kafka.model_copy(update={"topic_prefix": f"bench-{uuid.uuid4().hex[:8]}."})
    created = topic_admin.create_all(settings)
    if not created.ok:
        raise RuntimeError(f"topic conflicts: {created.conflicts}")
    figures: dict[str, float] = {}
    try:
        pairs = _publish_events(settings, options, report)
        figures.update(_ceiling_figures(settings, len(pairs), report))
        with tempfile.TemporaryDirectory(prefix="nurture-bench-") as tmp:
            bench = _Bench(settings, options, len(pairs), Path(tmp), report)
            figures.update(_worker_runs(bench, pairs))
    finally:
        topic_admin.delete_prefixed(settings)
    figures.update(shares_of_ceiling(figures, scaled=options.processes > 1))
    _report_shares(figures, options.processes, report)
    report_framings(figures, report)
    return figures


@dataclass(frozen=True)
class _Bench:
    """What every worker run of one bench shares: the settings (on the bench's topic prefix), the
    options, how many events the topic holds, the folder runs keep their files in, the output,
    and the workers' registry variable (Schema Registry mode off unless a run sets it)."""

    kafka: KafkaSettings
    options: BenchOptions
    expected: int
    tmp: Path
    report: Report
    env: Mapping[str, str] = field(default_factory=lambda: registry_mode_env(None))


@dataclass(frozen=True)
class WorkerRun:
    """The kind of one run of (b): scoring only or with campaigns, in one process or in
    ``processes`` of one group; with ``latency``, (c) follows on the same worker."""

    campaigns: bool = True
    latency: bool = False
    processes: int = 1
    #: The input is Confluent-framed and the worker in Schema Registry mode.
    confluent: bool = False

    @property
    def app_id(self) -> str:
        if self.processes > 1:
            return f"bench-scoring-x{self.processes}"
        if self.confluent:
            return "bench-scoring-confluent"
        return "bench-worker" if self.campaigns else "bench-scoring"

    @property
    def label(self) -> str:
        if self.processes > 1:
            return f"(b) {self.processes} scoring worker processes"
        if self.confluent:
            return "(b) scoring worker, Confluent-framed input"
        return (
            "(b) worker with campaigns" if self.campaigns else "(b) scoring worker (no campaigns)"
        )

    @property
    def folder(self) -> str:
        if self.processes > 1:
            return "scaled"
        if self.confluent:
            return "scoring-confluent"
        return "full" if self.campaigns else "scoring"


def _publish_events(
    kafka: KafkaSettings, options: BenchOptions, report: Report
) -> list[tuple[bytes, bytes]]:
    """Publish the bench's live traffic to candidate.activity; return the (key, value) pairs."""
    pairs = encoded_events(live_spec(events=options.events, candidates=options.candidates))
    started = time.perf_counter()
    publish(kafka, kafka.topic(ACTIVITY), pairs)
    report(f"published {len(pairs):,} events in {time.perf_counter() - started:.1f}s")
    return pairs


def _ceiling_figures(kafka: KafkaSettings, expected: int, report: Report) -> dict[str, float]:
    """(a): the raw consume + decode rate and its CPU per event."""
    cpu_before = time.process_time()
    rate = asyncio.run(_ceiling(kafka, kafka.topic(ACTIVITY), expected))
    cpu_us = (time.process_time() - cpu_before) / expected * 1e6
    report(
        f"(a) ceiling, aiokafka consume + decode: {rate:,.0f} ev/s ({cpu_us:.1f} µs CPU per event)"
    )
    return {"ceiling_events_per_s": rate, "ceiling_cpu_us_per_event": cpu_us}


def _worker_runs(bench: _Bench, pairs: list[tuple[bytes, bytes]]) -> dict[str, float]:
    """(b) scoring only, (b) with campaigns then (c), the scoring-only run Confluent-framed
    (with a registry), and with ``processes`` > 1 the scale-out run; figures of the scoring-only
    run prefixed ``scoring_``, of the Confluent-framed ``confluent_``, of the scale-out
    ``scaled_``."""
    scoring_only = _worker_run(bench, WorkerRun(campaigns=False))
    figures = {f"scoring_{name}": value for name, value in scoring_only.items()}
    figures.update(_worker_run(bench, WorkerRun(latency=True)))
    registry = bench.options.registry
    if registry is None:
        bench.report("(b) scoring worker, Confluent-framed input: skipped (no schema registry)")
    else:

        def run_scoring(kafka: KafkaSettings, env: Mapping[str, str]) -> dict[str, float]:
            confluent = replace(bench, kafka=kafka, env=env)
            return _worker_run(confluent, WorkerRun(campaigns=False, confluent=True))

        figures.update(confluent_scoring(bench.kafka, registry, pairs, run_scoring))
    # Last, so that N workers' after-work (their changelogs and standbys) cannot disturb the
    # latency run: run before it, p99 was 118 and 123 ms in two runs (54-83 ms otherwise).
    processes = bench.options.processes
    if processes > 1:
        scaled = _worker_run(bench, WorkerRun(campaigns=False, processes=processes))
        figures.update({f"scaled_{name}": value for name, value in scaled.items()})
    return figures


def shares_of_ceiling(figures: Mapping[str, float], *, scaled: bool) -> dict[str, float]:
    """Each worker's steady rate as a share of the ceiling (pure).

    Judged on the steady rate (after the first commit): start-up (group join, table recovery:
    seconds) is a one-off cost, not throughput; both rates are reported by each run.
    """
    ceiling = figures["ceiling_events_per_s"]
    shares = {
        "scoring_worker_share_of_ceiling": figures["scoring_worker_steady_events_per_s"] / ceiling,
        "worker_share_of_ceiling": figures["worker_steady_events_per_s"] / ceiling,
    }
    if scaled:
        shares["scaled_share_of_ceiling"] = figures["scaled_worker_steady_events_per_s"] / ceiling
    return shares


def _report_shares(figures: Mapping[str, float], processes: int, report: Report) -> None:
    """Print the steady rates against the targets (and the scale-out against one process)."""
    ceiling = figures["ceiling_events_per_s"]
    scoring = figures["scoring_worker_steady_events_per_s"]
    full = figures["worker_steady_events_per_s"]
    if processes > 1:
        scaled_rate = figures["scaled_worker_steady_events_per_s"]
        report(
            f"scale-out: {processes} scoring worker processes / ceiling = "
            f"{scaled_rate / ceiling:.0%} ({scaled_rate:,.0f} ev/s, "
            f"{scaled_rate / scoring:.2f}x one process)"
        )
    report(
        f"steady rates: scoring worker / ceiling = {scoring / ceiling:.0%} "
        f"(target >= {TARGET_SHARE:.0%}); "
        f"scoring worker {scoring:,.0f} ev/s (target >= {TARGET_RATE:,.0f}); "
        f"with campaigns {full:,.0f} ev/s ({full / ceiling:.0%}); "
        f"latency p99 {figures['latency_p99_ms']:.1f} ms (target < {TARGET_P99_MS:.0f})"
    )


async def _ceiling(kafka: KafkaSettings, topic: str, expected: int) -> float:
    decode = activity_codec().decode
    consumer = clients.aio_consumer(
        kafka,
        topic,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for record in records:
                    decode(record.value)
                seen += len(records)
        return expected / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def _worker_run(bench: _Bench, run: WorkerRun) -> dict[str, float]:
    """One worker (or ``run.processes`` of one group) from the start of the topic to its end;
    with ``run.latency``, then (c)."""
    kafka = bench.kafka
    if run.processes > kafka.topic_partitions:
        bench.report(
            f"note: {run.processes} processes share {kafka.topic_partitions} partitions; "
            f"{run.processes - kafka.topic_partitions} of them will sit idle"
        )
    tmp = bench.tmp / run.folder
    tmp.mkdir(parents=True, exist_ok=True)
    workers = WorkerGroup(
        [
            WorkerProcess(
                {**_worker_env(kafka, run, tmp / f"data{n}"), **bench.env},
                tmp / f"worker{n}.log",
            )
            for n in range(run.processes)
        ]
    )
    started = time.monotonic()
    workers.start()
    try:
        figures = _throughput(bench, run, workers, started)
        if run.latency:
            figures.update(_latency_figures(bench, workers.workers[0]))
        return figures
    except Exception:
        for each in workers.workers:
            bench.report(each.log_path.read_text(errors="replace")[-3000:])
        raise
    finally:
        workers.stop()


def _worker_env(kafka: KafkaSettings, run: WorkerRun, data_dir: Path) -> dict[str, str]:
    """The environment of one worker process of ``run``."""
    return {
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_WORKER_APP_ID": run.app_id,
        "NURTURE_WORKER_DATA_DIR": str(data_dir),
        "NURTURE_WORKER_WEB_PORT": str(free_port()),
        "NURTURE_WORKER_CAMPAIGNS": "true" if run.campaigns else "false",
    }


def _throughput(
    bench: _Bench, run: WorkerRun, workers: WorkerGroup, started: float
) -> dict[str, float]:
    """(b): wait until the workers (started at monotonic ``started``) committed every event;
    the rate from process start and the steady rate after start-up, and CPU per event."""
    kafka, expected = bench.kafka, bench.expected
    group = f"{kafka.topic_prefix}{run.app_id}"
    activity = kafka.topic(ACTIVITY)
    first = _first_commit(kafka, group, activity, expected, workers)
    if run.processes > 1:
        # Steady from when every process holds partitions: later joins (rebalance, table
        # recovery) are start-up, as for one process.
        _wait_all_joined(kafka, group, run.processes, workers)
        first = time.monotonic(), expected - sum(group_lag(kafka, group, activity).values())
    done = wait_caught_up(kafka, group, activity, timeout_s=600, alive=workers, interval_s=0.05)
    cpu_us = workers.cpu_seconds() / expected * 1e6
    rate = expected / (done - started)
    steady = (expected - first[1]) / (done - first[0]) if done > first[0] else rate
    since = "after its first commit" if run.processes == 1 else f"once all {run.processes} joined"
    bench.report(
        f"{run.label}, end to end: {rate:,.0f} ev/s from process start ({done - started:.1f}s, "
        f"start-up {first[0] - started:.1f}s); {steady:,.0f} ev/s {since}; "
        f"{cpu_us:.0f} µs CPU per event incl. start-up "
        f"(one free core: {1e6 / cpu_us if cpu_us else 0:,.0f} ev/s)"
    )
    return {
        "worker_events_per_s": rate,
        "worker_steady_events_per_s": steady,
        "worker_cpu_us_per_event": cpu_us,
    }


def _latency_figures(bench: _Bench, worker: WorkerProcess) -> dict[str, float]:
    """(c) on ``worker`` (caught up): p50 and p99 send -> engagement record."""
    options = bench.options
    p50, p99, matched = latency_to_engagement(
        bench.kafka, options.latency_rate, options.latency_seconds, options.candidates, worker
    )
    bench.report(
        f"(c) latency at {options.latency_rate:,.0f} ev/s (worker with campaigns): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"({matched:,} events matched to their engagement record)"
    )
    return {"latency_p50_ms": p50, "latency_p99_ms": p99}


def _first_commit(
    kafka: KafkaSettings, group: str, topic: str, expected: int, workers: WorkerGroup
) -> tuple[float, int]:
    """When the workers first committed, and how many records they had committed then."""
    while True:
        lag = sum(group_lag(kafka, group, topic).values())
        if lag < expected:
            return time.monotonic(), expected - lag
        if workers.exit_code() is not None:
            raise RuntimeError(f"worker exited with {workers.exit_code()}")
        time.sleep(0.05)


def _wait_all_joined(
    kafka: KafkaSettings, group: str, members: int, workers: WorkerGroup, timeout_s: float = 120
) -> None:
    """Wait until consumer group ``group`` is stable with ``members`` members."""
    deadline = time.monotonic() + timeout_s
    with topic_admin.admin_client(kafka) as admin:
        while True:
            info = admin.describe_groups([group])[group]
            if info["group_state"] == "Stable" and len(info["members"]) >= members:
                return
            if workers.exit_code() is not None:
                raise RuntimeError(f"worker exited with {workers.exit_code()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{group} not stable with {members} members: {info}")
            time.sleep(0.05)
