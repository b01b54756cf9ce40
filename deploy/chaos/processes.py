"""The run's child processes: workers and a delivery consumer, signalled and restarted at once.

Each :class:`Member` is one slot (``worker-1``, ``delivery``) whose process is started again as
soon as it exited, with the same data directory (a restarted worker finds its RocksDB store, a
restarted delivery consumer its delivery store and Maildir). Every exit is recorded with the
signal the harness had sent, so :mod:`deploy.chaos.exits` can tell the expected ones from
findings. All process starts happen on the thread that created the :class:`Fleet` (the
harness's main thread): the children's parent-death signal is tied to that thread.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from deploy.chaos.exits import explained, meaning
from deploy.chaos.schedule import SIGNALS, KillKind
from deploy.up.parent_death import terminate_with_parent
from schemas.settings import KafkaSettings
from schemas.stack_dump import request_dump
from streams.worker.liveness import EXIT_STALLED
from streams.worker.probe import WorkerProcess, free_port

MemberKind = Literal["worker", "delivery"]

#: Settings the children must not inherit from the harness's environment: each run sets its
#: own (a developer's ``NURTURE_DELIVERY_SMTP_HOST`` must never make a chaos run send mail).
SCRUBBED_PREFIXES = ("NURTURE_WORKER_", "NURTURE_DELIVERY_", "NURTURE_PRIVACY_")
#: The workers' app id (their consumer group is the topic prefix + this).
WORKER_APP_ID = "nurture-worker"
#: The delivery consumer's group prefix and channel (its group: prefix + ``-email``).
DELIVERY_GROUP_PREFIX = "nurture-delivery"
DELIVERY_CHANNEL = "email"
#: Seconds a process may take to exit after SIGTERM or SIGINT before it is SIGKILLed (and the
#: exit counted as unexpected).
SHUTDOWN_GRACE_S = 60.0
#: Lines of a process's log shown with an unexpected exit.
LOG_TAIL_LINES = 12
#: Lines shown for a process that did not stop: its thread stacks and asyncio tasks (SIGUSR1)
#: come last.
HUNG_TAIL_LINES = 400
#: Seconds to wait for a hung process's stack dump before it is SIGKILLed.
STACK_DUMP_WAIT_S = 5.0

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class ChildProcess(WorkerProcess):
    """A ``nurture`` command as a child process, with :class:`WorkerProcess`'s handling.

    It runs in its own session (a Ctrl-C in the terminal reaches only the harness, which then
    stops its children itself) and gets SIGTERM when the harness dies, even by SIGKILL.
    """

    def __init__(self, command: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        super().__init__(dict(env), log_path)
        self.command = tuple(command)
        self.log_start = 0
        self.env = {
            key: value
            for key, value in self.env.items()
            if key in env or not key.startswith(SCRUBBED_PREFIXES)
        }

    def start(self) -> ChildProcess:
        with self.log_path.open("ab") as log:
            #: Where this start's output begins in the log (earlier starts wrote before it).
            self.log_start = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli.main", *self.command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=terminate_with_parent(),  # noqa: PLW1509 - only calls prctl
            )
        return self

    def send(self, kind: KillKind) -> None:
        """Send ``kind`` without waiting (no-op once the process has exited)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(SIGNALS[kind])


def worker_env(kafka: KafkaSettings, data_dir: Path, erasure_secret: str) -> dict[str, str]:
    """A chaos worker's settings: the stream clock (campaign timers follow event time, so both
    runs decide the same), a short session timeout and commit interval as the tests use, its
    own data dir and a fresh web port."""
    return {
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_WORKER_APP_ID": WORKER_APP_ID,
        "NURTURE_WORKER_DATA_DIR": str(data_dir),
        "NURTURE_WORKER_WEB_PORT": str(free_port()),
        "NURTURE_WORKER_CLOCK": "stream",
        "NURTURE_WORKER_SESSION_TIMEOUT_S": "6",
        "NURTURE_WORKER_COMMIT_INTERVAL_S": "0.5",
        "NURTURE_WORKER_ERASURE_SECRET": erasure_secret,
        "NURTURE_WORKER_LOG_LEVEL": os.environ.get("NURTURE_CHAOS_LOG_LEVEL", "warning"),
    }


def delivery_env(
    kafka: KafkaSettings, data_dir: Path, kek: str, tracking_secret: str
) -> dict[str, str]:
    """The e-mail delivery consumer's settings: no SMTP host (messages go to the Maildir
    ``<data_dir>/outbox``), the run's own keys, and no rate limit worth the name."""
    return {
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_DELIVERY_DATA_DIR": str(data_dir),
        "NURTURE_DELIVERY_GROUP_PREFIX": DELIVERY_GROUP_PREFIX,
        "NURTURE_DELIVERY_TRACKING_SECRET": tracking_secret,
        "NURTURE_DELIVERY_POLL_TIMEOUT_MS": "100",
        "NURTURE_DELIVERY_RATE_PER_S": "1000",
        "NURTURE_DELIVERY_RATE_BURST": "1000",
        "NURTURE_PRIVACY_KEK": kek,
        "NURTURE_PRIVACY_GENERATE_KEK": "false",
        "NURTURE_DELIVERY_LOG_LEVEL": os.environ.get("NURTURE_CHAOS_LOG_LEVEL", "warning"),
    }


def worker_group(kafka: KafkaSettings) -> str:
    """The consumer group of the workers under ``kafka``'s prefix."""
    return f"{kafka.topic_prefix}{WORKER_APP_ID}"


def delivery_group(kafka: KafkaSettings) -> str:
    """The consumer group of the e-mail delivery consumer under ``kafka``'s prefix."""
    return f"{kafka.topic_prefix}{DELIVERY_GROUP_PREFIX}-{DELIVERY_CHANNEL}"


@dataclass(frozen=True)
class KillRecord:
    """A signal the harness sent (``at``: monotonic seconds)."""

    at: float
    kind: KillKind
    member: str
    member_kind: MemberKind


@dataclass(frozen=True)
class ExitRecord:
    """A process that ended, and what the harness had sent it."""

    at: float
    member: str
    member_kind: MemberKind
    code: int
    #: The signal the harness sent this process (None: it exited on its own).
    sent: KillKind | None
    #: It ignored SIGTERM/SIGINT for :data:`SHUTDOWN_GRACE_S` and was SIGKILLed.
    hung: bool = False
    #: The last lines this process wrote to its log (all kept for unexpected exits, the last
    #: one for expected ones).
    log_tail: tuple[str, ...] = ()

    @property
    def expected(self) -> bool:
        last_line = self.log_tail[-1] if self.log_tail else None
        return not self.hung and explained(self.sent, self.code, last_line)

    def describe(self) -> str:
        what = "nothing sent" if self.sent is None else f"after {self.sent}"
        if self.hung:
            return f"{self.member}: did not stop within {SHUTDOWN_GRACE_S:.0f}s {what}"
        return f"{self.member}: exit {self.code} ({meaning(self.code)}), {what}"


@dataclass
class Member:
    """One slot of the fleet and its current process."""

    name: str
    kind: MemberKind
    #: Builds a fresh, unstarted process for this slot (a worker gets a new web port).
    make: Callable[[], ChildProcess]
    process: ChildProcess | None = None
    sent: KillKind | None = None
    sent_at: float | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.exit_code() is None

    @property
    def live(self) -> bool:
        """Running and not yet signalled: a valid target for the next kill."""
        return self.running and self.sent is None

    def start(self) -> None:
        self.process = self.make().start()
        self.sent, self.sent_at = None, None
        self.starts += 1

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> tuple[str, ...]:
        """The last ``lines`` non-empty lines the current process wrote (escapes removed)."""
        if self.process is None or not self.process.log_path.exists():
            return ()
        with self.process.log_path.open("rb") as log:
            end = log.seek(0, 2)
            log.seek(max(self.process.log_start, end - 96_000))
            text = log.read().decode(errors="replace")
        kept = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
        return tuple(line for line in kept if line.strip())[-lines:]


def dump_stacks(process: ChildProcess) -> None:
    """Ask a process that does not stop for every thread's stack, and a worker for its asyncio
    tasks and state, and wait until the dump reached its log (schemas/stack_dump.py)."""
    if process.process is not None:
        request_dump(process.process, process.log_path, STACK_DUMP_WAIT_S)


@dataclass
class Fleet:
    """The members of a run: starts them, signals them, restarts whatever exited."""

    members: list[Member]
    kills: list[KillRecord] = field(default_factory=list)
    exits: list[ExitRecord] = field(default_factory=list)
    restarting: bool = True

    def start(self) -> None:
        for member in self.members:
            member.start()

    def live(self, kind: MemberKind | None = None) -> list[Member]:
        return [m for m in self.members if m.live and (kind is None or m.kind == kind)]

    def of_kind(self, kind: MemberKind) -> list[Member]:
        return [m for m in self.members if m.kind == kind]

    def kill(self, member: Member, kind: KillKind) -> KillRecord:
        """Send ``kind`` to ``member``'s process as a scheduled kill (recorded)."""
        record = KillRecord(self._send(member, kind), kind, member.name, member.kind)
        self.kills.append(record)
        return record

    def _send(self, member: Member, kind: KillKind) -> float:
        assert member.process is not None
        now = time.monotonic()
        member.process.send(kind)
        member.sent, member.sent_at = kind, now
        return now

    def tick(self) -> list[ExitRecord]:
        """Record the exits since the last tick and restart those members (while
        ``restarting``); SIGKILL a process that outlived :data:`SHUTDOWN_GRACE_S` after a
        SIGTERM or SIGINT. Returns the new exits."""
        now = time.monotonic()
        new = []
        for member in self.members:
            process = member.process
            if process is None:
                continue
            code = process.exit_code()
            hung = False
            if code is None:
                overdue = member.sent in ("SIGTERM", "SIGINT") and member.sent_at is not None
                if not overdue or now - (member.sent_at or now) < SHUTDOWN_GRACE_S:
                    continue
                dump_stacks(process)
                process.kill()
                code, hung = process.exit_code(), True
                assert code is not None
            # A hung process's stacks, or a stalled worker's tasks (it writes them as it exits).
            long = hung or (member.kind == "worker" and code == EXIT_STALLED)
            tail = member.log_tail(HUNG_TAIL_LINES if long else LOG_TAIL_LINES)
            record = ExitRecord(now, member.name, member.kind, code, member.sent, hung, tail)
            if record.expected:
                record = ExitRecord(
                    now, member.name, member.kind, code, member.sent, hung, tail[-1:]
                )
            new.append(record)
            member.process = None
            if self.restarting:
                member.start()
        self.exits.extend(new)
        return new

    def stop(self, grace_s: float = 30.0) -> list[ExitRecord]:
        """Stop restarting, SIGTERM every running process and wait up to ``grace_s`` for all of
        them (SIGKILL after that); returns their exits."""
        self.restarting = False
        self.tick()
        for member in self.members:
            if member.live:
                self._send(member, "SIGTERM")
        deadline = time.monotonic() + grace_s
        while any(m.running for m in self.members) and time.monotonic() < deadline:
            time.sleep(0.05)
        for member in self.members:
            if member.running and member.process is not None:
                member.process.kill()
        return self.tick()

    def stacks(self) -> dict[str, tuple[str, ...]]:
        """Each running process's log tail, ending with its thread stacks and state (SIGUSR1):
        what a run that stopped committing leaves to go on."""
        found = {}
        for member in self.members:
            if member.running and member.process is not None:
                dump_stacks(member.process)
                found[member.name] = member.log_tail(HUNG_TAIL_LINES)
        return found

    def kill_all(self) -> None:
        """SIGKILL every process at once, nothing recorded (an aborted run)."""
        self.restarting = False
        for member in self.members:
            if member.process is not None:
                member.process.kill()
