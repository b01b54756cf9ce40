"""Log records while the live view of `nurture up` is on screen.

A line written to the terminal under a live view moves it down: the view then redraws lower
and the screen scrolls at every refresh. (httpx alone logs one INFO line per request, and the
view scrapes every child's ``/metrics`` every 2 s.) While the view is shown, records go to a
log file, and the supervisor's latest messages (starts, exits, restarts) to the view itself.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RecentMessages(logging.Handler):
    """Keeps the last ``keep`` messages, each as ``HH:MM:SS message``."""

    def __init__(self, keep: int = 3) -> None:
        super().__init__()
        self._messages: deque[str] = deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        at = time.strftime("%H:%M:%S", time.localtime(record.created))
        self._messages.append(f"{at} {record.getMessage()}")

    @property
    def messages(self) -> tuple[str, ...]:
        """The kept messages, oldest first."""
        return tuple(self._messages)


@contextmanager
def logs_beside_the_view(
    recent: RecentMessages, log_file: Path, supervisor_logger: str = "nurture.up"
) -> Iterator[None]:
    """Within this block, every record goes to ``log_file`` instead of the terminal, and those
    of ``supervisor_logger`` also to ``recent``; httpx logs only warnings (not each scrape).
    The handlers and levels before are restored after."""
    root = logging.getLogger()
    supervisor = logging.getLogger(supervisor_logger)
    httpx_logger = logging.getLogger("httpx")
    httpx_level = httpx_logger.level
    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    terminal_handlers = root.handlers[:]
    root.handlers = [to_file]
    supervisor.addHandler(recent)
    httpx_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        httpx_logger.setLevel(httpx_level)
        supervisor.removeHandler(recent)
        root.handlers = terminal_handlers
        to_file.close()
