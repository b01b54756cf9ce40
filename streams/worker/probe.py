"""Watching a worker from outside: its consumer group's lag, and a worker as a child process.

Used by the benchmark and the tests to await "caught up" (committed offsets at the end of the
source topic) instead of sleeping, and by operators to check a deployment.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kafka import TopicPartition

from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.stack_dump import request_dump


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a worker's web server in tests and benches)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_offsets(kafka: KafkaSettings, group: str, topic: str) -> dict[int, tuple[int, int]]:
    """``(committed, end)`` offsets of consumer group ``group`` on each partition of ``topic``."""
    consumer = clients.consumer(kafka, group_id=group, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions)
        return {tp.partition: (consumer.committed(tp) or 0, ends[tp]) for tp in partitions}
    finally:
        consumer.close()


def group_lag(kafka: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """Records of ``topic`` per partition not yet committed by consumer group ``group``."""
    offsets = group_offsets(kafka, group, topic)
    return {p: max(0, end - committed) for p, (committed, end) in offsets.items()}


def wait_caught_up(  # noqa: PLR0913 - keyword-only timing and liveness check of one wait
    kafka: KafkaSettings,
    group: str,
    topic: str,
    *,
    timeout_s: float = 120.0,
    interval_s: float = 0.25,
    alive: WorkerProcess | WorkerGroup | None = None,
) -> float:
    """Wait until ``group`` has committed every record of ``topic``; return when (monotonic).

    Raises :class:`TimeoutError` after ``timeout_s``, or :class:`RuntimeError` when ``alive`` (a
    worker that should be running) exited meanwhile.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        lag = group_lag(kafka, group, topic)
        if not any(lag.values()):
            return time.monotonic()
        if alive is not None and alive.exit_code() is not None:
            raise RuntimeError(f"worker exited with {alive.exit_code()} before catching up: {lag}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} still lags on {topic} after {timeout_s}s: {lag}")
        time.sleep(interval_s)


class WorkerProcess:
    """`nurture worker` as a child process (its own CPU and event loop, killable with -9)."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli.main", "worker", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def port(self) -> int:
        """The worker's HTTP port (from its environment)."""
        return int(self.env["NURTURE_WORKER_WEB_PORT"])

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the process used so far (Linux /proc; 0 elsewhere)."""
        if self.process is None:
            return 0.0
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def state_report(self) -> str:
        """The worker's own account of what it waits for (SIGUSR1: its intake's offsets per
        partition, after its threads' and tasks' stacks); empty when it does not run."""
        if self.process is None:
            return ""
        dump = request_dump(self.process, self.log_path)
        start = dump.find("-- intake ")
        return dump[start:] if start >= 0 else dump[-4000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit (what a crash or OOM kill does)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def signal(self, signum: int) -> None:
        """Send ``signum`` (SIGTERM, SIGINT: a graceful stop; SIGKILL: a crash) if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        """The exit status once the process ended; ``subprocess.TimeoutExpired`` after
        ``timeout_s``."""
        assert self.process is not None, "the process was never started"
        return self.process.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``timeout_s``)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class WorkerGroup:
    """Several `nurture worker` processes of one app id, so one consumer group sharing the
    partitions (how a worker scales out on one host)."""

    def __init__(self, workers: Sequence[WorkerProcess]) -> None:
        self.workers = list(workers)

    def start(self) -> WorkerGroup:
        for worker in self.workers:
            worker.start()
        return self

    def cpu_seconds(self) -> float:
        """CPU seconds of all the processes together."""
        return sum(worker.cpu_seconds() for worker in self.workers)

    def exit_code(self) -> int | None:
        """The exit status of the first process that ended, or None while all run."""
        for worker in self.workers:
            code = worker.exit_code()
            if code is not None:
                return code
        return None

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
