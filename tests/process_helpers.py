"""Helpers for tests that run nurture commands in their own processes."""

from __future__ import annotations

import signal
import subprocess


def finish(process: subprocess.Popen[bytes], timeout_s: float) -> tuple[bytes, bytes]:
    """``process.communicate(timeout=timeout_s)``; when it does not end in time, fail the test
    with every thread's stack (nurture prints them on SIGUSR1) and what it wrote so far."""
    try:
        out, err = process.communicate(timeout=timeout_s)
        return out or b"", err or b""
    except subprocess.TimeoutExpired:
        pass
    # Raised outside the except clause: called from a ``finally``, the error that failed the
    # test first stays attached as the context.
    process.send_signal(signal.SIGUSR1)
    try:
        out, err = process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=30)
    # Stacks go to stderr, which may be merged into stdout (stderr=STDOUT): keep enough.
    shown = (err or b"")[-20_000:] + (out or b"")[-(5_000 if err else 25_000) :]
    raise AssertionError(
        f"{process.args!r} still ran after {timeout_s}s; its stacks and output:\n"
        + shown.decode(errors="replace")
    )
