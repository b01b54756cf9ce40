"""The pure parts of `nurture chaos --broker-faults`: what counts as missing or repeated in
candidate.activity, the longest time without progress, and the report's lines."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.chaos.broker_faults import BrokerEvent, publish_check
from deploy.chaos.progress import PartitionId, Position, Snapshot, longest_stall
from deploy.chaos.report import figures, render_text
from deploy.chaos.result import ChaosOptions, ChaosResult
from deploy.cli.main import app as cli

A = PartitionId("candidate.activity", 0)


def test_published_repeats_are_not_extra_copies_but_a_second_copy_is() -> None:
    # "e2" was published twice on purpose (the input repeats event ids): two copies are right.
    clean = publish_check(["e1", "e2", "e2", "e3"], ["e3", "e2", "e1", "e2"])
    assert clean.acknowledged == clean.found == 4
    assert clean.missing == () and clean.extra_copies == 0
    broken = publish_check(["e1", "e2", "e3"], ["e1", "e1", "e3", "stray"])
    assert broken.missing == ("e2",)
    assert broken.extra_copies == 2  # a second "e1" and one event nobody published


def _snap(at: float, committed: int, end: int) -> Snapshot:
    return Snapshot(at, {A: Position(committed, end)})


def test_the_longest_stall_counts_only_time_with_records_waiting() -> None:
    snapshots = [
        _snap(0.0, 10, 20),
        _snap(1.0, 10, 20),
        _snap(4.0, 10, 30),  # 4 s without a commit while records waited
        _snap(5.0, 15, 30),
        _snap(6.0, 30, 30),
        _snap(20.0, 30, 30),  # idle, nothing waiting: not a stall
        _snap(21.0, 30, 31),
        _snap(23.0, 30, 31),  # 2 s
        _snap(24.0, 31, 31),
    ]
    assert longest_stall(snapshots) == 4.0
    assert longest_stall([]) == 0.0


def test_the_report_lists_the_broker_steps_and_the_publish_check() -> None:
    options = ChaosOptions(seed=1, prefix="p-", broker_faults="kill")
    result = ChaosResult(options)
    result.broker_events = [
        BrokerEvent(100.0, 2, "SIGKILL (it led the most partitions)"),
        BrokerEvent(110.5, 2, "started again"),
    ]
    result.publish = publish_check(["e1", "e2"], ["e1"])
    result.in_sync_at_end = True
    data = figures(result)
    assert data["broker_faults"]["missing"] == 1
    assert (
        "acknowledged events are missing from or repeated in candidate.activity"
        in (data["findings"])
    )
    text = "\n".join(render_text(data))
    assert "+  10.5s broker 2: started again" in text
    assert "2 acknowledged, 1 found in candidate.activity: missing 1, extra copies 0" in text


def test_broker_faults_need_a_running_cluster_and_a_known_mode(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["chaos", "--broker-faults", "meteor"])
    assert unknown.exit_code == 2 and "kill, rolling" in unknown.output
    absent = runner.invoke(
        cli, ["chaos", "--broker-faults", "kill", "--cluster-dir", str(tmp_path)]
    )
    assert absent.exit_code == 3 and "no local cluster runs" in absent.output
