"""`nurture bench processor`: CPU per event of the worker's processing alone (no Kafka, no faust).

Calls :class:`~streams.worker.processor.ActivityProcessor` on batches of synthetic live events
over an in-memory store, the same code the worker runs between a fetch and its publish, and
reports CPU microseconds per event with and without the campaign engine. It isolates the
worker's own work from the broker, the network and faust, so a change to the hot path can be
judged on a noisy machine (CPU time, best of several rounds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry

from streams.bench.loadgen import encoded_events, live_spec
from streams.scoring.config import load_model
from streams.worker.campaigns import CampaignOutput, build_engine
from streams.worker.erasure import ErasureMarks
from streams.worker.metrics import WorkerMetrics
from streams.worker.outbox import key_partition
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor

PARTITIONS = 3


class _Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def processor_cpu_us(
    events: int, candidates: int, *, campaigns: bool, batch: int = 1000, rounds: int = 3
) -> float:
    """Best-of-``rounds`` CPU microseconds per event of processing ``events`` fresh events."""
    pairs = encoded_events(live_spec(events=events, candidates=candidates))
    records = [
        _Record("activity", key_partition(key, PARTITIONS), n, key, value, ())
        for n, (key, value) in enumerate(pairs)
    ]
    best = float("inf")
    for _ in range(rounds):
        process = _processor(campaigns)
        started = time.process_time()
        process(records, batch)
        best = min(best, time.process_time() - started)
    return best / events * 1e6


def _processor(campaigns: bool) -> Callable[[Sequence[Any], int], None]:
    model = load_model()
    metrics = WorkerMetrics(CollectorRegistry())
    partitions = {name: PARTITIONS for name in ("changelog", "engagement", "dlq", "action")}
    outputs = Outputs(
        table=SimpleNamespace(data={}),
        changelog="changelog",
        engagement="engagement",
        dlq={"activity": "dlq"},
        partitions=partitions,
        metrics=metrics,
        erasure=ErasureMarks(b"bench-erasure-secret-0123456789"),
    )
    output = CampaignOutput(build_engine(model), "action", metrics, model.version)
    processor = ActivityProcessor(model, outputs, output if campaigns else None)

    def run(records: Sequence[Any], batch: int) -> None:
        for start in range(0, len(records), batch):
            step = processor.process(records[start : start + batch])
            step.seal()
            outputs.rows.commit(step.writes, {}, lambda partition, offset: None)

    return run


def bench_processor(events: int, candidates: int, report: Callable[[str], None]) -> None:
    scoring = processor_cpu_us(events, candidates, campaigns=False)
    full = processor_cpu_us(events, candidates, campaigns=True)
    report(
        f"processing {events:,} live events of {candidates:,} candidates, CPU per event "
        f"(best of 3): scoring only {scoring:.1f} µs ({1e6 / scoring:,.0f} ev/s on one core), "
        f"with campaigns {full:.1f} µs ({1e6 / full:,.0f} ev/s)"
    )
