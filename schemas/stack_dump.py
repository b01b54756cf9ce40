"""Every thread's stack on SIGUSR1: the first thing to take from a process that hangs.

faulthandler writes from the signal handler itself, so the dump comes even when the event loop
or the main thread is stuck; the process goes on running.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import signal


def dump_stacks_on_sigusr1() -> None:
    """Print every thread's stack to stderr on SIGUSR1 (where stderr is a real file: not under
    a test runner that captures it in memory, nor with stderr closed)."""
    with contextlib.suppress(io.UnsupportedOperation, AttributeError, ValueError, RuntimeError):
        # Once registered, faulthandler does not install its handler again: after an event
        # loop took the signal over and gave it back (faust's worker), start afresh.
        faulthandler.unregister(signal.SIGUSR1)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
