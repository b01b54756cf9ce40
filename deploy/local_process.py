"""What the local broker and the local schema registry both need of a background process they
started: is its pid alive, is its port taken, and stopping it within a bound."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child, which still answers ``kill(0)``, counts as
    gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def await_exit(pid: int, timeout_s: float, *, interval_s: float = 0.2) -> None:
    """Wait up to ``timeout_s`` for ``pid`` to exit (after a SIGTERM), then SIGKILL it and wait
    until it is gone."""
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(interval_s)
    kill_and_wait(pid)


def kill_and_wait(pid: int) -> None:
    """SIGKILL ``pid`` unless it is gone already, and wait until it is."""
    if not alive(pid):
        return
    os.kill(pid, signal.SIGKILL)
    while alive(pid):
        time.sleep(0.05)
