"""The pure parts of `nurture chaos`: schedule, exits, progress maths, comparison, input,
outbox, target choice and the report (no broker)."""

from __future__ import annotations

import mailbox
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.chaos.compare import Difference, compare
from deploy.chaos.exits import explained, meaning
from deploy.chaos.inputs import chaos_input, input_end, with_duplicates
from deploy.chaos.outbox import action_id_of, duplicate_sends, message_ids
from deploy.chaos.outcome import Outcome
from deploy.chaos.processes import ChildProcess, ExitRecord, Fleet, KillRecord, Member
from deploy.chaos.progress import (
    PartitionId,
    Position,
    Snapshot,
    percentile,
    recovery_time,
    stuck_partitions,
)
from deploy.chaos.report import figures, render_text
from deploy.chaos.result import ChaosOptions, ChaosResult
from deploy.chaos.schedule import (
    FAUST_COUNTS,
    PAUSE_RANGE_S,
    ScheduleCounts,
    count_kinds,
    kill_schedule,
)
from deploy.chaos.supervision import DELIVERY_KILL_SHARE, choose_target

# --- schedule ------------------------------------------------------------------------------


def test_scale_one_is_fausts_schedule() -> None:
    schedule = kill_schedule(seed=1)
    kinds = count_kinds(k.kind for k in schedule)
    assert len(schedule) == 180
    assert kinds["SIGKILL"] == 30
    assert kinds["SIGTERM"] + kinds["SIGINT"] == 150
    assert kinds["SIGTERM"] >= 50 and kinds["SIGINT"] > 0  # 100 coin flips: both sides show
    assert all(PAUSE_RANGE_S[0] <= k.pause_s <= PAUSE_RANGE_S[1] for k in schedule)
    # shuffled, not grouped by kind
    assert [k.kind for k in schedule] != sorted(k.kind for k in schedule)


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        (0.0, (0, 0, 0)),
        (0.05, (5, 3, 2)),  # 2.5 and 1.5 round up
        (0.07, (7, 4, 3)),  # 100 * 0.07 is 7.000000000000001 in floats: still 7
        (0.001, (1, 1, 1)),
        (2.0, (200, 100, 60)),
    ],
)
def test_scaled_counts_round_up(scale: float, expected: tuple[int, int, int]) -> None:
    counts = FAUST_COUNTS.scaled(scale)
    assert (counts.term_or_int, counts.term, counts.kill) == expected


def test_negative_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="scale"):
        FAUST_COUNTS.scaled(-0.5)


@given(seed=st.integers(0, 2**31), scale=st.floats(0, 1.5, allow_nan=False))
def test_schedule_is_seeded_and_has_the_scaled_counts(seed: int, scale: float) -> None:
    schedule = kill_schedule(seed, scale)
    assert schedule == kill_schedule(seed, scale)
    wanted = FAUST_COUNTS.scaled(scale)
    kinds = count_kinds(k.kind for k in schedule)
    assert len(schedule) == wanted.total
    assert kinds["SIGKILL"] == wanted.kill
    assert kinds["SIGTERM"] >= wanted.term
    assert kinds["SIGTERM"] + kinds["SIGINT"] == wanted.term_or_int + wanted.term


def test_custom_counts_and_pauses() -> None:
    schedule = kill_schedule(
        3, counts=ScheduleCounts(term_or_int=0, term=2, kill=1), pause_range_s=(0.5, 0.5)
    )
    assert sorted(k.kind for k in schedule) == ["SIGKILL", "SIGTERM", "SIGTERM"]
    assert {k.pause_s for k in schedule} == {0.5}


# --- exits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "code", "last_line", "expected"),
    [
        ("SIGTERM", 0, None, True),
        ("SIGTERM", -15, None, True),  # before the handler was installed
        ("SIGINT", 0, None, True),
        ("SIGINT", -2, None, True),
        ("SIGINT", 130, None, True),  # typer's answer to KeyboardInterrupt in the command
        ("SIGTERM", 130, None, False),
        ("SIGINT", 1, "KeyboardInterrupt", True),  # interrupted while Python started
        ("SIGINT", 1, "Aborted!", True),  # interrupted inside click, before faust
        ("SIGINT", 1, "invalid worker settings: ...", False),
        ("SIGTERM", 1, "KeyboardInterrupt", False),
        ("SIGKILL", -9, None, True),
        ("SIGKILL", 0, None, False),
        ("SIGTERM", 70, None, False),  # an agent crashed
        ("SIGTERM", 75, None, False),  # stalled
        (None, 0, None, False),  # exited without being asked to
        (None, -9, None, False),
    ],
)
def test_which_exits_a_kill_explains(
    sent: Any, code: int, last_line: str | None, expected: bool
) -> None:
    assert explained(sent, code, last_line) is expected


def test_exit_meanings() -> None:
    assert meaning(-9) == "killed by SIGKILL"
    assert meaning(70) == "an agent failed on a batch"
    assert "stalled" in meaning(75)
    assert meaning(3) == "exited with an error"


def test_exit_record_that_hung_is_unexpected_whatever_its_code() -> None:
    hung = ExitRecord(0.0, "worker-1", "worker", -9, "SIGTERM", hung=True)
    assert not hung.expected
    assert "did not stop" in hung.describe()
    ok = ExitRecord(0.0, "worker-1", "worker", 0, "SIGTERM")
    assert ok.expected
    assert ok.describe() == "worker-1: exit 0 (stopped cleanly), after SIGTERM"


# --- progress ------------------------------------------------------------------------------

A0, A1 = PartitionId("activity", 0), PartitionId("activity", 1)
P0 = PartitionId("profile", 0)


def _snap(at: float, **committed_end: tuple[int, int]) -> Snapshot:
    ids = {"a0": A0, "a1": A1, "p0": P0}
    return Snapshot(at, {ids[k]: Position(*v) for k, v in committed_end.items()})


def test_recovery_waits_for_every_partition_that_was_waiting() -> None:
    snapshots = [
        _snap(0.0, a0=(10, 20), a1=(5, 20), p0=(3, 3)),
        _snap(1.0, a0=(15, 25), a1=(5, 25), p0=(3, 3)),  # a1 (the killed worker's) stands
        _snap(8.0, a0=(20, 30), a1=(5, 30), p0=(3, 3)),
        _snap(9.5, a0=(25, 30), a1=(9, 30), p0=(3, 3)),  # a1 moves: recovered
    ]
    assert recovery_time(0.5, snapshots, {"activity", "profile"}) == pytest.approx(9.0)
    # only the partitions of the given topics count
    assert recovery_time(0.5, snapshots, {"profile"}) is None  # nothing waited on it


def test_a_commit_between_the_last_look_and_the_kill_is_not_the_recovery() -> None:
    snapshots = [
        _snap(0.0, a0=(10, 20), a1=(5, 20)),
        # the killed worker committed a1 (and a0) just before it died, after the last look
        _snap(0.6, a0=(12, 22), a1=(8, 22)),
        _snap(0.9, a0=(14, 24), a1=(8, 24)),  # a1 stands: its owner is dead
        _snap(7.1, a0=(16, 26), a1=(11, 26)),  # taken over and committed
    ]
    assert recovery_time(0.5, snapshots, {"activity"}) == pytest.approx(6.6)


def test_recovery_is_none_without_a_snapshot_before_or_a_recovery_after() -> None:
    snapshots = [_snap(1.0, a0=(0, 5)), _snap(2.0, a0=(0, 5))]
    assert recovery_time(0.5, snapshots, {"activity"}) is None
    assert recovery_time(1.5, snapshots, {"activity"}) is None


def test_a_partition_that_reached_the_end_counts_as_moved() -> None:
    snapshots = [_snap(0.0, a0=(4, 5)), _snap(0.25, a0=(4, 5)), _snap(3.0, a0=(5, 5))]
    assert recovery_time(0.0, snapshots, {"activity"}) == 3.0


@given(
    commits=st.lists(st.integers(0, 50), min_size=1, max_size=30),
    kill_at=st.floats(0, 30, allow_nan=False),
)
def test_recovery_is_never_negative_nor_before_a_commit(commits: list[int], kill_at: float) -> None:
    running = 0
    snapshots = []
    for second, step in enumerate(commits):
        running += step
        snapshots.append(Snapshot(float(second), {A0: Position(running, 10_000)}))
    found = recovery_time(kill_at, snapshots, {"activity"})
    if found is not None:
        assert found > 0
        recovered = next(s for s in snapshots if s.at == pytest.approx(kill_at + found))
        before = [s for s in snapshots if s.at <= kill_at][-1]
        assert recovered.positions[A0].committed > before.positions[A0].committed


def test_stuck_partitions_are_waiting_and_still() -> None:
    snapshots = [
        _snap(0.0, a0=(10, 50), a1=(10, 50), p0=(0, 0)),
        _snap(20.0, a0=(10, 50), a1=(30, 50), p0=(0, 0)),
        _snap(40.0, a0=(10, 50), a1=(40, 50), p0=(0, 0)),
    ]
    assert stuck_partitions(snapshots, window_s=30) == [(A0, Position(10, 50))]
    # a short run compares with its first snapshot
    assert stuck_partitions(snapshots, window_s=300) == [(A0, Position(10, 50))]
    assert stuck_partitions([], window_s=30) == []


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 99) == 4.0
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0
    with pytest.raises(ValueError):
        percentile([1.0], 0)


@given(
    values=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50),
    low=st.floats(1, 100),
    high=st.floats(1, 100),
)
def test_percentile_is_a_value_and_grows_with_q(
    values: list[float], low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    at_low, at_high = percentile(values, low), percentile(values, high)
    assert at_low in values and at_high in values
    assert at_low is not None and at_high is not None and at_low <= at_high


# --- comparison ----------------------------------------------------------------------------


def _engagement(score: float, offset: int = 7) -> dict[str, Any]:
    return {
        "score": score,
        "tier": "warm",
        "last_event_id": "e1",
        "source_partition": 2,
        "source_offset": offset,
    }


def _outcome(
    engagement: dict[str, Any] | None = None,
    actions: set[str] | None = None,
    suppression: dict[str, Any] | None = None,
) -> Outcome:
    return Outcome(
        engagement=engagement if engagement is not None else {"c1": _engagement(1.0)},
        actions={a: ("welcome", "email") for a in (actions if actions is not None else {"a1"})},
        suppression=suppression or {},
        dead_letters={"candidate.activity.dlq": 0},
    )


def test_equal_outcomes_compare_clean() -> None:
    result = compare(_outcome(), _outcome())
    assert result.clean
    assert result.candidates == 1
    assert result.examples == ()


def test_differences_per_candidate_and_actions() -> None:
    reference = _outcome(
        {"c1": _engagement(1.0), "c2": _engagement(2.0), "c3": _engagement(3.0)},
        {"a1", "a2"},
        {"c1": {"unsubscribed": {"email": 1}}},
    )
    chaos = _outcome(
        {"c1": _engagement(1.0), "c2": _engagement(2.5), "c4": _engagement(4.0)},
        {"a1", "a3"},
        {"c1": None},  # a tombstone is not the record
    )
    result = compare(reference, chaos, examples=3)
    assert result.engagement == ("c2", "c3", "c4")
    assert result.suppression == ("c1",)
    assert result.differing_candidates == ("c1", "c2", "c3", "c4")
    assert result.missing_actions == ("a2",)
    assert result.extra_actions == ("a3",)
    assert not result.clean
    assert [d.candidate_id for d in result.examples] == ["c2", "c3", "c4"]
    assert result.examples[0].fields() == ["score"]


def test_difference_summary_names_the_fields() -> None:
    diff = Difference("c9", "candidate.engagement", _engagement(1.0, 7), _engagement(1.0, 9))
    assert diff.fields() == ["source_offset"]
    assert "c9 on candidate.engagement" in diff.summary()
    assert "[2]@7" in diff.summary() and "[2]@9" in diff.summary()
    absent = Difference("c9", "candidate.suppression", None, {"unsubscribed": {"all": 1}})
    assert "reference none" in absent.summary()
    assert absent.fields() == ["unsubscribed"]


# --- input ---------------------------------------------------------------------------------


@given(size=st.integers(1, 200), share=st.floats(0, 1, allow_nan=False), seed=st.integers(0, 99))
def test_duplicates_come_after_their_original(size: int, share: float, seed: int) -> None:
    items = list(range(size))
    out, copies = with_duplicates(items, random.Random(seed), share)
    assert copies == round(size * share)
    assert len(out) == size + copies
    assert sorted(set(out)) == items
    # each item's first occurrence is its original, and the originals keep their order
    assert sorted(set(out), key=out.index) == items


def test_input_is_pure_time_ordered_and_has_duplicates() -> None:
    end = datetime(2026, 3, 1, tzinfo=UTC)
    first = chaos_input(5, 400, 40, end=end)
    assert first == chaos_input(5, 400, 40, end=end)
    assert first != chaos_input(6, 400, 40, end=end)
    assert first.duplicates == 8 and len(first.events) == 408
    ids = [e["event_id"] for e in first.events]
    assert len(set(ids)) == 400
    originals = [e for n, e in enumerate(first.events) if e["event_id"] not in ids[:n]]
    times = [e["occurred_at"] for e in originals]
    assert times == sorted(times)
    assert {p["candidate_id"] for p in first.profiles} >= {e["candidate_id"] for e in originals}
    assert all(e["occurred_at"] <= end for e in first.events)


def test_input_ends_two_days_before_the_run_at_midnight_utc() -> None:
    now = datetime(2026, 12, 7, 0, 28, tzinfo=UTC)
    assert input_end(now) == datetime(2026, 12, 5, tzinfo=UTC)
    assert input_end(now.astimezone(UTC) + timedelta(hours=23)) == datetime(2026, 12, 5, tzinfo=UTC)


# --- outbox --------------------------------------------------------------------------------


def _mail(box: mailbox.Maildir, action_id: str) -> None:
    message = EmailMessage()
    message["Message-ID"] = f"<{action_id}@candidate-nurture>"
    message["Subject"] = "hello"
    message.set_content("body")
    box.add(message)


def test_outbox_counts_each_message_id(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    assert message_ids(outbox) == Counter()
    box = mailbox.Maildir(outbox, create=True)
    for action_id in ("a1", "a2", "a2", "a3"):
        _mail(box, action_id)
    key = next(iter(box.keys()))
    message = box[key]
    message.set_subdir("cur")  # a mail client moved one to cur/: still counted
    box[key] = message
    counted = message_ids(outbox)
    assert sum(counted.values()) == 4
    assert duplicate_sends(counted) == {"<a2@candidate-nurture>": 2}
    assert action_id_of("<a2@candidate-nurture>") == "a2"
    assert action_id_of("<x@elsewhere>") is None


# --- target choice -------------------------------------------------------------------------


class _Running:
    """Stands in for a process that runs."""

    def exit_code(self) -> int | None:
        return None


def _fleet(workers: int) -> Fleet:
    def never() -> ChildProcess:
        raise AssertionError("not started in these tests")

    running = cast(ChildProcess, _Running())
    members = [Member(f"worker-{n}", "worker", never, running) for n in range(1, workers + 1)]
    return Fleet([*members, Member("delivery", "delivery", never, running)])


def test_targets_are_live_workers_or_now_and_then_delivery() -> None:
    fleet = _fleet(2)
    rng = random.Random(1)
    assert choose_target(fleet, DELIVERY_KILL_SHARE / 2, rng) is fleet.members[-1]
    chosen = {choose_target(fleet, 0.9, rng).name for _ in range(50)}  # type: ignore[union-attr]
    assert chosen == {"worker-1", "worker-2"}


def test_the_last_live_worker_of_several_is_spared() -> None:
    fleet = _fleet(2)
    fleet.members[0].sent = "SIGTERM"  # stopping: not live
    assert choose_target(fleet, 0.9, random.Random(1)) is None
    # delivery may still be killed meanwhile
    assert choose_target(fleet, 0.0, random.Random(1)) is fleet.members[-1]


def test_a_single_worker_is_killed_and_restarted() -> None:
    fleet = _fleet(1)
    assert choose_target(fleet, 0.9, random.Random(1)) is fleet.members[0]


# --- result and report ---------------------------------------------------------------------


def _result(**changes: Any) -> ChaosResult:
    result = ChaosResult(ChaosOptions(seed=4, prefix="chaos-x-", scale=0.05))
    result.profiles, result.events, result.duplicates = 10, 102, 2
    result.scheduled = {"SIGTERM": 1, "SIGINT": 1, "SIGKILL": 1}
    result.kills = [
        KillRecord(1.0, "SIGTERM", "worker-1", "worker"),
        KillRecord(2.0, "SIGINT", "delivery", "delivery"),
        KillRecord(3.0, "SIGKILL", "worker-2", "worker"),
    ]
    result.exits = [ExitRecord(3.1, "worker-2", "worker", -9, "SIGKILL")]
    result.worker_recovery_s = [8.25, None]
    result.reference = result.chaos = _outcome()
    result.comparison = compare(result.reference, result.chaos)
    result.emails, result.drained = 1, True
    result.delivery_outcomes = Counter({"sent": 1})
    for name, value in changes.items():
        setattr(result, name, value)
    return result


def test_a_clean_result_reports_exit_0() -> None:
    data = figures(_result())
    assert data["clean"] and data["exit_status"] == 0 and data["findings"] == []
    assert data["kills"]["applied"] == {"SIGTERM": 1, "SIGINT": 1, "SIGKILL": 1}
    assert data["kills"]["delivery"] == {"SIGTERM": 0, "SIGINT": 1, "SIGKILL": 0}
    assert data["recovery_s"] == {
        "worker_sigkill": [8.25, None],
        "p50": 8.25,
        "p99": 8.25,
        "delivery_sigkill": [],
    }
    text = "\n".join(render_text(data))
    assert "kills             3 applied: SIGTERM 1, SIGINT 1, SIGKILL 1" in text
    assert "p50 8.2s" in text and "(1 of 2 measured)" in text
    assert "candidates        0 of 1 differ" in text
    assert text.endswith("result            CLEAN (exit 0)")


@pytest.mark.parametrize(
    ("changes", "finding"),
    [
        ({"duplicate_sends": {"<a1@candidate-nurture>": 2}}, "e-mails were sent twice"),
        ({"drained": False}, "the chaos run did not drain"),
        ({"stuck": [(A0, Position(1, 5))]}, "partitions are stuck"),
        ({"comparison": None}, "the outcomes were not compared"),
        (
            {"exits": [ExitRecord(1.0, "worker-1", "worker", 70, None, False, ("boom",))]},
            "processes exited unexpectedly",
        ),
        (
            {"comparison": compare(_outcome(), _outcome(actions=set()))},
            "the outcome differs from the reference",
        ),
    ],
)
def test_every_finding_makes_exit_1(changes: dict[str, Any], finding: str) -> None:
    data = figures(_result(**changes))
    assert data["findings"] == [finding]
    assert data["exit_status"] == 1
    text = render_text(data)
    assert text[-1].startswith(f"result            FOUND: {finding}")


def test_unexpected_exits_show_their_log() -> None:
    crash = ExitRecord(1.0, "worker-1", "worker", 70, "SIGTERM", False, ("Traceback", "Boom"))
    text = render_text(figures(_result(exits=[crash])))
    assert "                  worker-1: exit 70 (an agent failed on a batch), after SIGTERM" in text
    assert "                    | Boom" in text


def test_schedule_counts_total() -> None:
    assert FAUST_COUNTS.total == 180
    assert math.isclose(sum(k.pause_s for k in kill_schedule(2, 0)), 0)


def test_a_run_that_did_not_drain_shows_each_process_dump_and_a_fresh_reading() -> None:
    data = figures(
        _result(
            drained=False,
            stuck=[(A0, Position(0, 52))],
            committed_recheck={A0: 52},
            stalled_processes={"delivery": ("-- delivery loop --", "commits 0, last never")},
        )
    )
    assert data["stuck_partitions"][0]["committed_recheck"] == 52
    text = "\n".join(render_text(data))
    assert f"{A0} (lag 52, committed 0; a fresh client reads 52)" in text
    assert "                  delivery: commits 0, last never" in text
    # The same reading as the watch's is not repeated.
    same = render_text(figures(_result(stuck=[(A0, Position(3, 5))], committed_recheck={A0: 3})))
    assert f"{A0} (lag 2, committed 3)" in "\n".join(same)
