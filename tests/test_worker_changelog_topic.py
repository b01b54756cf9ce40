"""The table's changelog is made before faust starts and is part of every assignment.

Under `nurture chaos` a worker took over partitions 0-2 one second after start while the group
leader's metadata did not list the changelog faust had just declared: the assignment left it
out, nothing was restored, and every candidate there lost its profile (113 actions missing,
all engagement equal). These tests fail when either rule breaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kafka.admin import NewTopic

from schemas.errors import ConfigError
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from streams.worker.changelog_topic import ensure_changelog, unrestorable
from streams.worker.liveness import EXIT_STALLED
from tests.worker_support import WorkerHarness


def test_unrestorable_names_the_source_partitions_without_their_changelog_partition() -> None:
    full = [("a", 0), ("a", 1), ("cl", 0), ("cl", 1), ("p", 0)]
    assert unrestorable(full, "a", "cl") == []
    assert unrestorable([("a", 0), ("a", 1), ("a", 2), ("cl", 1)], "a", "cl") == [0, 2]
    assert unrestorable([("cl", 0)], "a", "cl") == []  # a standby changelog alone is fine
    assert unrestorable([], "a", "cl") == []


GUARD = """
import faust
from faust.types import TP
import asyncio
from streams.worker.changelog_topic import require_changelog_partitions
app = faust.App("guard-test", autodiscover=False)
require_changelog_partitions(app, ("src", "prof"), "cl")
assigned = ASSIGNED
asyncio.run(app.on_partitions_assigned.send(assigned))
print("went on")
"""


def _guard(assigned: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", GUARD.replace("ASSIGNED", assigned)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_assignment_without_the_changelog_partitions_ends_the_worker_before_it_processes() -> (
    None
):
    done = _guard("{TP('src', 0), TP('prof', 0), TP('src', 3), TP('cl', 3)}")
    assert done.returncode == EXIT_STALLED, done.stderr
    assert "left out cl for partitions [0]" in done.stderr
    assert "went on" not in done.stdout
    complete = _guard("{TP('src', 0), TP('prof', 0), TP('cl', 0)}")
    assert complete.returncode == 0, complete.stderr
    assert complete.stdout.strip() == "went on"


@pytest.mark.kafka
def test_ensure_changelog_makes_a_compacted_co_partitioned_topic_once(
    kafka: KafkaSettings,
) -> None:
    name = kafka.topic("app-candidates-changelog")
    assert ensure_changelog(kafka, name, 4) is True
    state = topic_admin.describe(kafka, [name])[name]
    assert state.partitions == 4
    assert state.configs["cleanup.policy"] == "compact"
    assert ensure_changelog(kafka, name, 4) is False  # there already: left as it is
    with pytest.raises(ConfigError, match="has 4 partitions, the source topics 6"):
        ensure_changelog(kafka, name, 6)
    deleting = kafka.topic("other-candidates-changelog")
    with topic_admin.admin_client(kafka) as admin:  # made by hand with the wrong policy
        admin.create_topics([NewTopic(deleting, 4, 1, topic_configs={"cleanup.policy": "delete"})])
    with pytest.raises(ConfigError, match="must be compacted"):
        ensure_changelog(kafka, deleting, 4)


@pytest.mark.kafka
def test_the_worker_makes_its_changelog_before_faust_and_refuses_a_mismatched_one(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    harness = WorkerHarness(kafka, tmp_path, "mismatch")
    changelog = f"{harness.group}-candidates-changelog"
    # Made by hand with the wrong partition count: faust alone would start on it and place
    # rows on other partitions than their candidates' events.
    ensure_changelog(kafka, changelog, kafka.topic_partitions + 1)
    worker = harness.worker()
    try:
        worker.start()
        assert worker.wait(timeout_s=90) == 2  # a configuration error
        log = " ".join(worker.log_path.read_text(errors="replace").split())  # rewrapped
        wrong = kafka.topic_partitions + 1
        assert f"the table changelog {changelog} has {wrong} partitions, the source topics" in log
    finally:
        harness.close()
