"""The live view of `nurture up` fits the terminal and says what it hides (issue #16, item 7).

Rendered with rich as the terminal would show it; no processes, no broker.
"""

from __future__ import annotations

import logging
from io import StringIO
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.up.live import home_shortened
from deploy.up.screen import ProcessLine, ViewState, _flow, render
from deploy.up.view import Row
from deploy.up.view_log import RecentMessages, logs_beside_the_view

NAMES = (
    "webhook-sink",
    "deliver-email",
    "deliver-webhook",
    "deliver-career_event_invite",
    "deliver-recruiter_alert",
    "deliver-ad_audience",
    "worker",
    "gateway",
    "simulator",
)
TOPICS = (
    "candidate.activity",
    "candidate.profile",
    "nurture.action",
    "nurture.engagement",
    "nurture.delivery.email",
)
CHANNELS = ("email", "webhook", "career_event_invite", "recruiter_alert", "ad_audience")


def _process(index: int, name: str, status: str = "running") -> ProcessLine:
    restarting = status == "restarting"
    return ProcessLine(
        name, status, 4000 + index, 3 if restarting else 0, 1 if restarting else None, 9100 + index
    )


def _busy(restarting: str = "worker") -> ViewState:
    """`nurture up --demo` after a while: nine processes, one restarting, many campaigns."""
    processes = tuple(
        _process(i, name, "restarting" if name == restarting else "running")
        for i, name in enumerate(NAMES)
    )
    rows = [
        Row("events/s", "in (gateway accepted)", "150.0"),
        Row("events/s", "processed (worker)", "200.0"),
        *(Row("consumer lag (records)", t, f"{i * 7}") for i, t in enumerate(TOPICS)),
        *(
            Row("candidates per tier", t, n)
            for t, n in (("cold", "4,000"), ("hot", "12"), ("warm", "90"))
        ),
        *(
            Row("actions emitted", f"campaign-{c:02}/{channel}", f"{c * 31:,}")
            for c in range(12)
            for channel in ("email", "webhook")
        ),
        *(
            Row("actions suppressed", reason, "4")
            for reason in ("consent_missing", "frequency_cap", "quiet_hours", "unsubscribed")
        ),
        *(Row("actions held (quiet hours)", f"campaign-{c:02}", "2") for c in range(5)),
        *(
            Row("deliveries", f"{channel}/{outcome}", "1,234")
            for channel in CHANNELS
            for outcome in ("dead_lettered", "failed", "sent")
        ),
        Row("dead letters", "candidate.activity.dlq/ValidationError", "2"),
        Row("dead letters", "delivery email", "1"),
    ]
    recent = ("12:00:01 worker exited with status 1; restart 3 in 4s (log: ~/logs/worker.log)",)
    return ViewState(processes, tuple(rows), "~/.local/share/candidate-nurture/logs", recent)


def _screen(state: ViewState, width: int, height: int) -> list[str]:
    """The lines a terminal of ``width`` x ``height`` shows."""
    from rich.console import Console  # noqa: PLC0415

    console = Console(width=width, height=height, file=StringIO(), record=True, color_system=None)
    console.print(render(state, width, height))
    return console.export_text().splitlines()


def test_the_busy_view_fits_80x24_and_says_what_it_hides() -> None:
    lines = _screen(_busy(), 80, 24)
    assert len(lines) <= 24
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("nurture up  9 processes: 8 running, 1 restarting")
    assert lines[-1].startswith("hidden: ")
    assert lines[-1] == ("hidden: 36 values in 4 sections; enlarge the terminal or see /metrics")
    text = "\n".join(lines)
    for name in NAMES:  # at 80x24 every process keeps its own line
        assert any(line.startswith(f"{name} ") for line in lines), name
    assert "in (gateway accepted) 150.0 · processed (worker) 200.0" in text
    assert "nurture.delivery.email 28" in text  # the largest lag
    assert "worker exited with status 1" in text
    assert "+20 more" in text  # a collapsed section counts what it left out


def test_at_a_large_size_nothing_is_hidden() -> None:
    state = _busy()
    lines = _screen(state, 200, 80)
    text = "\n".join(lines)
    assert not any(line.startswith("hidden") for line in lines)
    assert "more" not in text
    for row in state.rows:
        assert f"{row.item} {row.value}" in text, row
    assert "worker exited with status 1" in text


def test_a_short_terminal_keeps_the_restarting_process_and_collapses_the_rest() -> None:
    lines = _screen(_busy(restarting="gateway"), 80, 10)
    assert len(lines) <= 10
    assert any(line.startswith("gateway ") and "restarting" in line for line in lines)
    assert "+8 more processes (all running)" in lines
    assert lines[-1].startswith("hidden: 8 processes (all running)")
    assert any(line.startswith("events/s ") for line in lines)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(20, 220), height=st.integers(1, 70))
def test_every_size_fits(width: int, height: int) -> None:
    lines = _screen(_busy(), width, height)
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines)
    assert lines[0].startswith("nurture up"[:width])


def test_nothing_scraped_yet_is_shown_without_a_hidden_notice() -> None:
    state = ViewState(
        tuple(_process(i, name, "starting") for i, name in enumerate(NAMES[:3])),
        (Row("events/s", "in (gateway accepted)", "-"), Row("deliveries", "none yet", "")),
        "~/logs",
    )
    lines = _screen(state, 80, 24)
    assert lines[0] == "nurture up  3 processes: all starting  logs ~/logs"
    assert "deliveries         none yet" in lines
    assert not lines[-1].startswith("hidden")


def test_flow_wraps_and_counts_what_does_not_fit() -> None:
    items = [f"item-{i} {i}" for i in range(10)]
    assert _flow(items, 41, 10) == (
        [
            "item-0 0 · item-1 1 · item-2 2 · item-3 3",
            "item-4 4 · item-5 5 · item-6 6 · item-7 7",
            "item-8 8 · item-9 9",
        ],
        0,
    )
    lines, left_out = _flow(items, 41, 2)
    assert lines == [
        "item-0 0 · item-1 1 · item-2 2 · item-3 3",
        "item-4 4 · item-5 5 · item-6 6 · +3 more",
    ]
    assert left_out == 3
    lines, left_out = _flow(["a-very-long-topic-name/and-a-reason 2", "b 1"], 20, 1)
    assert lines == ["a-very-lo… · +1 more"] and left_out == 1  # 20 characters


def test_log_records_go_to_a_file_and_the_supervisors_to_the_view(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = root.handlers[:]
    recent = RecentMessages(keep=2)
    with logs_beside_the_view(recent, tmp_path / "logs" / "up.log"):
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        for n in range(3):
            logging.getLogger("nurture.up").warning("worker exited with status %d", n)
        logging.getLogger("other").warning("not for the view")
    assert root.handlers == before
    assert [m.split(" ", 1)[1] for m in recent.messages] == [
        "worker exited with status 1",
        "worker exited with status 2",
    ]
    written = (tmp_path / "logs" / "up.log").read_text()
    assert "worker exited with status 0" in written and "not for the view" in written


def test_the_log_dir_is_written_from_home() -> None:
    home = Path("/home/someone")
    assert home_shortened(home / ".local/share/nurture/logs", home) == "~/.local/share/nurture/logs"
    assert home_shortened(Path("/var/lib/nurture/logs"), home) == "/var/lib/nurture/logs"
