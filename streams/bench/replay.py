"""`nurture bench replay`: rebuild throughput against the live single worker's rate.

On a fresh topic prefix (deleted afterwards): publish synthetic activity (streams.bench.loadgen),
then

a. **live**: one `nurture worker` process (faust, RocksDB, campaigns, stream clock) from its
   start until its committed offsets reach the end of the topic (as `nurture bench worker` b);
   skipped with ``live_rate`` given;
b. **rebuild** with 1 process and with ``processes`` processes: `nurture replay rebuild
   --from-beginning` of another app id (changelog re-created, rows, engagement records and
   replay actions published, offsets committed), timed end to end and for the replay alone.

Target: rebuild >= 2x the live rate. CPU microseconds per event are printed for both: on a
machine shared with other work, wall-clock rates follow the load, CPU per event much less.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from streams.bench.loadgen import LoadSpec, encoded_events, publish
from streams.replay.rebuild import plan_rebuild, rebuild
from streams.worker.probe import WorkerProcess, free_port, wait_caught_up
from streams.worker.settings import WorkerSettings

TARGET_FACTOR = 2.0

Report = Callable[[str], None]


@dataclass(frozen=True)
class ReplayBenchOptions:
    """What `nurture bench replay` measures (its options)."""

    events: int = 200_000
    candidates: int = 20_000
    #: Rebuild processes of the second measurement.
    processes: int = 2
    #: Live worker events/s to compare with (None: measure it).
    live_rate: float | None = None


def bench_replay(
    kafka: KafkaSettings, options: ReplayBenchOptions, *, report: Report
) -> dict[str, float]:
    """Run (a) and (b); print and return the figures."""
    events, candidates = options.events, options.candidates
    processes, live_rate = options.processes, options.live_rate
    settings = kafka.model_copy(update={"topic_prefix": f"bench-{uuid.uuid4().hex[:8]}."})
    created = topic_admin.create_all(settings)
    if not created.ok:
        raise RuntimeError(f"topic conflicts: {created.conflicts}")
    figures: dict[str, float] = {}
    try:
        pairs = encoded_events(LoadSpec(events=events, candidates=candidates))
        started = time.perf_counter()
        publish(settings, settings.topic(ACTIVITY), pairs)
        report(f"published {len(pairs):,} events in {time.perf_counter() - started:.1f}s")
        with tempfile.TemporaryDirectory(prefix="nurture-bench-replay-") as tmp:
            if live_rate is None:
                live_rate, live_cpu = _live_rate(settings, Path(tmp), len(pairs))
                figures["live_cpu_us_per_event"] = live_cpu
                report(
                    f"(a) live worker, one process: {live_rate:,.0f} ev/s from process start; "
                    f"{live_cpu:.0f} µs CPU per event incl. start-up"
                )
            else:
                report(f"(a) live worker rate given: {live_rate:,.0f} ev/s")
            figures["live_events_per_s"] = live_rate
            for count in sorted({1, processes}):
                worker = WorkerSettings.given(
                    app_id=f"bench-replay-{count}",
                    store={"data_dir": Path(tmp) / f"replay-{count}"},
                )
                began, cpu_before = time.perf_counter(), _cpu_now()
                jobs = plan_rebuild(settings, worker, None)
                result = rebuild(settings, worker, jobs, processes=count)
                total = time.perf_counter() - began
                cpu_us = (_cpu_now() - cpu_before) / len(pairs) * 1e6
                rate = len(pairs) / total
                figures[f"rebuild_{count}p_events_per_s"] = rate
                figures[f"rebuild_{count}p_replay_events_per_s"] = result.events_per_s
                figures[f"rebuild_{count}p_cpu_us_per_event"] = cpu_us
                report(
                    f"(b) rebuild, {count} process(es): {rate:,.0f} ev/s end to end "
                    f"({total:.1f}s incl. plan, changelog reset, offsets); replay alone "
                    f"{result.events_per_s:,.0f} ev/s; {rate / live_rate:.1f}x live "
                    f"(target >= {TARGET_FACTOR:.0f}x); {cpu_us:.0f} µs CPU per event"
                )
    finally:
        topic_admin.delete_prefixed(settings)
    return figures


def _live_rate(kafka: KafkaSettings, tmp: Path, expected: int) -> tuple[float, float]:
    """Events/s of one worker from its start until caught up, and its CPU µs per event."""
    app_id = "bench-live"
    env = {
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_WORKER_APP_ID": app_id,
        "NURTURE_WORKER_DATA_DIR": str(tmp / "live"),
        "NURTURE_WORKER_WEB_PORT": str(free_port()),
        "NURTURE_WORKER_CLOCK": "stream",
    }
    worker = WorkerProcess(env, tmp / "live.log")
    started = time.monotonic()
    worker.start()
    try:
        done = wait_caught_up(
            kafka,
            f"{kafka.topic_prefix}{app_id}",
            kafka.topic(ACTIVITY),
            timeout_s=1200,
            alive=worker,
            interval_s=0.1,
        )
        cpu_us = worker.cpu_seconds() / expected * 1e6
    except Exception:
        print(worker.log_path.read_text(errors="replace")[-3000:])
        raise
    finally:
        worker.stop()
    return expected / (done - started), cpu_us


def _cpu_now() -> float:
    """CPU seconds of this process and its finished children (the replay processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
