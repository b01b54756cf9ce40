"""The live view of `nurture up` on the terminal: scrape, lay out for the terminal's size
(:func:`deploy.up.screen.render`), redraw in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live

from deploy.up.screen import ViewState, processes_of, render
from deploy.up.supervisor import Supervisor
from deploy.up.view import Row, Snapshot, snapshot, view_rows
from deploy.up.view_log import RecentMessages, logs_beside_the_view


def home_shortened(path: Path, home: Path) -> str:
    """``path`` with ``home`` written as ``~`` (it saves a third of an 80-column line)."""
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


class LiveView:
    """The processes and the pipeline's figures, scraped at most every ``every_s`` seconds."""

    def __init__(
        self, supervisor: Supervisor, recent: RecentMessages, every_s: float = 2.0
    ) -> None:
        self.supervisor = supervisor
        self.recent = recent
        self.every_s = every_s
        self.urls = [c.spec.metrics_url for c in supervisor.children if c.spec.metrics_url]
        self.previous: Snapshot | None = None
        self.rows: list[Row] = []

    def render(self, width: int, height: int) -> Group:
        now = time.monotonic()
        if self.previous is None or now - self.previous.at >= self.every_s:
            current = snapshot(now, self.urls, timeout_s=0.5)
            self.rows = view_rows(current, self.previous)
            self.previous = current
        state = ViewState(
            processes_of(self.supervisor.children),
            tuple(self.rows),
            home_shortened(self.supervisor.log_dir, Path.home()),
            self.recent.messages,
        )
        return render(state, width, height)


def run_live_view(
    supervisor: Supervisor, console: Console, stop_requested: Callable[[], bool]
) -> None:
    """Supervise and redraw the view in place until ``stop_requested()`` or every child is done.

    Log records go to ``<log dir>/up.log`` meanwhile (a line printed under the view would
    scroll it); the supervisor's latest messages show in the view.
    """
    recent = RecentMessages()
    view = LiveView(supervisor, recent)
    with (
        logs_beside_the_view(recent, supervisor.log_dir / "up.log"),
        Live(
            view.render(*console.size),
            console=console,
            auto_refresh=False,
            vertical_overflow="crop",  # a guard only: the view already fits the terminal
        ) as live,
    ):
        while not stop_requested() and not supervisor.all_finished:
            supervisor.poll()
            live.update(view.render(*console.size), refresh=True)
            time.sleep(0.5)
