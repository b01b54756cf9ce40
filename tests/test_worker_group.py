"""Several workers in one group while members join, leave (SIGTERM, SIGINT) and die (SIGKILL),
against the real broker: the last engagement record per candidate still equals the reference
computed from the topic by the same pure functions (nothing lost, nothing counted twice).

One worker alone never rebalances; the batch intake once lost a fetch at every rebalance while
every single-worker test stayed green (docs/worker.md, "Processing a batch").
"""

from __future__ import annotations

import random
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.chaos.exits import explained
from deploy.chaos.schedule import KILL_KINDS, SIGNALS
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from streams.bench.loadgen import LoadSpec, encoded_events
from streams.scoring.config import load_model
from streams.worker.probe import WorkerProcess, group_offsets
from tests.kafka_helpers import unique, wait_until
from tests.test_worker_recovery import background_publish, committed_total, with_retries
from tests.worker_support import WorkerHarness, differences, published, reference

pytestmark = pytest.mark.kafka


@pytest.fixture
def harness(kafka: KafkaSettings, tmp_path: Path) -> Iterator[WorkerHarness]:
    harness = WorkerHarness(kafka, tmp_path, unique("grp"))
    yield harness
    harness.close()


def last_line(log: Path) -> str | None:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else None


def caught_up(harness: WorkerHarness, sender: threading.Thread) -> bool:
    """True once everything was published and the group committed all of it."""
    if sender.is_alive():
        return False
    offsets = group_offsets(harness.kafka, harness.group, harness.kafka.topic(ACTIVITY))
    return all(committed >= end for committed, end in offsets.values())


def test_members_joining_leaving_and_dying_lose_and_double_nothing(
    kafka: KafkaSettings, harness: WorkerHarness
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    spec = LoadSpec(events=60_000, candidates=3_000, duplicate_share=0.03, seed=seed, run="grp")
    pairs = with_retries(encoded_events(spec), rng, 600)
    sender = background_publish(kafka, pairs)
    names = ["w1", "w2", "w3"]
    workers: dict[str, WorkerProcess] = {name: harness.worker(name).start() for name in names}
    # Each round: one member leaves or dies while the others work, then comes back; the
    # group rebalances twice per round, with records arriving all the while.
    for round_ in range(6):
        since = committed_total(harness)

        def progressed(since: int = since) -> bool:
            return committed_total(harness) > since or caught_up(harness, sender)

        wait_until(
            progressed,
            timeout_s=90,
            interval_s=0.1,
            what=f"commit progress before round {round_} (seed {seed})",
        )
        name = rng.choice(names)
        kind = rng.choice(KILL_KINDS)
        workers[name].signal(SIGNALS[kind])
        try:
            code = workers[name].wait(timeout_s=60)
        except subprocess.TimeoutExpired:
            state = workers[name].state_report()  # what its threads and tasks wait for
            pytest.fail(
                f"seed {seed}: {name} still runs 60 s after {kind}\n{state}\n{harness.logs()}"
            )
        # 0 once faust runs (a clean stop, or a stop mid-step: runner.py); the signal's own
        # ending before that (deploy/chaos/exits.py lists how start-up ends).
        last = last_line(harness.tmp / f"{name}.log")
        assert explained(kind, code, last), f"seed {seed}: {kind} -> {code}\n{harness.logs()}"
        workers[name] = harness.worker(name).start()
    sender.join()
    harness.wait_caught_up(timeout_s=180)
    for process in workers.values():
        assert process.exit_code() is None, f"seed {seed}: a worker exited\n{harness.logs()}"
    problems = differences(reference(load_model(), kafka), published(kafka))
    assert not problems, f"seed {seed}: {len(problems)} candidates differ, e.g.\n" + "\n".join(
        problems[:3]
    )
