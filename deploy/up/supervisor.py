"""Run child processes, restart the ones that crash (with backoff), stop them all in order.

Each child's output goes to its own log file. Stopping sends SIGTERM to children in the reverse
order of their start (producers of input stop before the processors that drain it), waits for
each to finish its in-flight work, and kills only after the grace period.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.up.parent_death import terminate_with_parent

log = logging.getLogger("nurture.up")


@dataclass(frozen=True)
class ChildSpec:
    """One supervised process."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait after SIGTERM before SIGKILL.
    grace_s: float = 30.0
    #: A child that exits with status 0 is done (e.g. a bounded simulator), not crashed.
    restart_on_success: bool = False
    #: A URL that must answer 200 before this child starts (e.g. the gateway it sends to).
    start_after: str | None = None
    #: Port of the child's Prometheus ``GET /metrics`` on 127.0.0.1 (None: it has none).
    metrics_port: int | None = None

    @property
    def metrics_url(self) -> str | None:
        port = self.metrics_port
        return None if port is None else f"http://127.0.0.1:{port}/metrics"


@dataclass
class ChildState:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start_at: float = 0.0
    last_exit: int | None = None
    finished: bool = False

    @property
    def status(self) -> str:
        if self.finished:
            return "done"
        if self.process is not None and self.process.poll() is None:
            return "running"
        return "restarting" if self.restarts else "starting"


def answers(url: str, timeout_s: float, interval_s: float = 0.2) -> bool:
    """True once ``url`` answers 200 within ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def backoff_s(restarts: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Delay before restart number ``restarts`` (1, 2, 4, ... seconds, capped)."""
    return float(min(cap_s, base_s * 2 ** max(0, restarts - 1)))


class Supervisor:
    """Starts children, restarts crashed ones, stops them all on request."""

    def __init__(self, specs: Sequence[ChildSpec], log_dir: Path) -> None:
        self.children = [ChildState(spec) for spec in specs]
        self.log_dir = log_dir
        self._stopping = False

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start_all(self, ready_timeout_s: float = 60.0) -> None:
        """Start every child in order; one with ``start_after`` once that URL answers 200
        (or after ``ready_timeout_s``, with a warning: it may then crash and be restarted)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for child in self.children:
            url = child.spec.start_after
            if url is not None and not answers(url, ready_timeout_s):
                log.warning("%s: %s did not answer; starting anyway", child.spec.name, url)
            self._start(child)

    def _start(self, child: ChildState) -> None:
        out = self.log_file(child.spec.name).open("ab")
        env = {**os.environ, **child.spec.env}
        child.process = subprocess.Popen(
            list(child.spec.argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C reaches only the supervisor, which stops in order
            # and a killed supervisor leaves no orphans (the hook only calls prctl: thread-safe)
            preexec_fn=terminate_with_parent(),  # noqa: PLW1509
        )
        out.close()
        child.started_at = time.monotonic()
        log.info("started %s (pid %s)", child.spec.name, child.process.pid)

    def poll(self) -> None:
        """Notice exits and restart crashed children whose backoff has passed."""
        now = time.monotonic()
        for child in self.children:
            if self._stopping or child.finished or child.process is None:
                continue
            code = child.process.poll()
            if code is None:
                continue
            if child.next_start_at == 0.0:
                child.last_exit = code
                if code == 0 and not child.spec.restart_on_success:
                    child.finished = True
                    log.info("%s finished", child.spec.name)
                    continue
                child.restarts += 1
                child.next_start_at = now + backoff_s(child.restarts)
                log.warning(
                    "%s exited with status %s; restart %d in %.0fs (log: %s)",
                    child.spec.name,
                    code,
                    child.restarts,
                    child.next_start_at - now,
                    self.log_file(child.spec.name),
                )
            elif now >= child.next_start_at:
                child.next_start_at = 0.0
                self._start(child)

    def stop_all(self) -> None:
        """SIGTERM children in reverse start order, each given its grace period."""
        self._stopping = True
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            log.info("stopping %s", child.spec.name)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=child.spec.grace_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s did not stop in %.0fs; killing it", child.spec.name, child.spec.grace_s
                )
                process.kill()
                process.wait()

    @property
    def all_finished(self) -> bool:
        return all(child.finished for child in self.children)
