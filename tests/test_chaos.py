"""`nurture chaos` against the real broker, as CI runs it: a reduced schedule with two workers
(a few SIGTERM/SIGINT and two SIGKILLs on a few thousand events) must find nothing, and a
fault-free run proves the harness itself is deterministic (same input, stream clock, same
campaigns: no difference without a single kill).

Each run gets a ``unique`` prefix, so the session's sweep deletes its topics even if the
command could not clean up after itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.chaos.schedule import count_kinds, kill_schedule
from schemas.settings import KafkaSettings
from tests.kafka_helpers import unique
from tests.replay_support import nurture

pytestmark = pytest.mark.kafka

NURTURE = str(Path(sys.executable).parent / "nurture")
#: A seed whose reduced schedule (scale 0.05) has every kind: 3 SIGTERM, 5 SIGINT, 2 SIGKILL.
SEED = 4
SCALE = 0.05
#: Small input: a few thousand events, a few hundred candidates.
SIZE = ("--events", "3000", "--candidates", "300")


def _chaos(kafka: KafkaSettings, *args: str, timeout_s: float = 200.0) -> dict[str, Any]:
    """Run `nurture chaos ... --json` as its own process; its figures (fails with its output
    when it does not exit 0)."""
    prefix = unique("chaos") + "."
    done = subprocess.run(
        [
            NURTURE,
            "--bootstrap",
            kafka.bootstrap_servers,
            "chaos",
            "--prefix",
            prefix,
            "--json",
            "--timeout",
            str(timeout_s),
            *SIZE,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-6000:]}"
    figures: dict[str, Any] = json.loads(done.stdout)
    assert figures["prefix"] == prefix
    return figures


def _compared(figures: dict[str, Any]) -> None:
    """The outcome was read on both sides and compared, and nothing differed."""
    comparison = figures["comparison"]
    assert comparison is not None
    assert comparison["candidates"] > 100
    assert comparison["candidates_differing"] == 0
    assert comparison["actions_missing"] == comparison["actions_extra"] == 0
    assert figures["reference"]["actions"] > 0  # campaigns fired: the action ids were compared
    assert figures["chaos"]["actions"] == figures["reference"]["actions"]
    assert figures["delivery"]["emails"] > 0 and figures["delivery"]["duplicate_sends"] == 0
    assert figures["drained"] and figures["stuck_partitions"] == []


def test_reduced_schedule_with_two_workers_finds_nothing(kafka_base: KafkaSettings) -> None:
    scheduled = count_kinds(k.kind for k in kill_schedule(SEED, SCALE))
    assert scheduled == {"SIGTERM": 3, "SIGINT": 5, "SIGKILL": 2}
    figures = _chaos(kafka_base, "--workers", "2", "--scale", str(SCALE), "--seed", str(SEED))
    applied = figures["kills"]["applied"]
    assert applied == figures["kills"]["scheduled"] == scheduled
    assert (
        len(figures["recovery_s"]["worker_sigkill"])
        + len(figures["recovery_s"]["delivery_sigkill"])
        == 2
    )
    assert figures["exits"]["unexpected"] == []
    _compared(figures)


def test_a_fault_free_run_differs_in_nothing(kafka_base: KafkaSettings) -> None:
    figures = _chaos(kafka_base, "--workers", "2", "--scale", "0", "--seed", "7")
    assert figures["kills"]["total"] == 0
    assert figures["exits"]["unexpected"] == []
    _compared(figures)


def test_a_prefix_in_use_is_refused(kafka: KafkaSettings) -> None:
    result = nurture(kafka, "chaos", "--prefix", kafka.topic_prefix, "--scale", "0")
    assert result.exit_code == 2, result.output
    assert "already in use" in result.output


def test_a_pause_range_that_is_not_one_is_refused(kafka: KafkaSettings) -> None:
    for bad in ("2:1", "soon", "-1:2"):
        result = nurture(kafka, "chaos", "--pause", bad, "--scale", "0")
        assert result.exit_code == 2, result.output
        assert "--pause" in result.output
