"""Every thread's stack on SIGUSR1: the first thing to take from a process that hangs.

faulthandler writes from the signal handler itself, so the dump comes even when the event loop
or the main thread is stuck; the process goes on running. A process with an asyncio event loop
(the worker) also prints every task's stack once its loop takes the signal: a loop that is idle
(every thread waiting in ``select``) shows nothing in the thread stacks, but its tasks show what
each one waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import TextIO

#: The line that ends a task dump (a process's reader can wait for it).
TASKS_DUMPED = "-- end of asyncio tasks --"

#: Functions that describe a component's state in a few lines, printed after the tasks.
_reporters: list[Callable[[], Iterable[str]]] = []


def add_state_reporter(report: Callable[[], Iterable[str]]) -> None:
    """Print ``report()``'s lines with every task dump (the worker's intake and consumer state:
    what a stall is explained by, next to what the tasks wait in)."""
    _reporters.append(report)


def remove_state_reporter(report: Callable[[], Iterable[str]]) -> None:
    """Stop printing ``report`` (its component closed)."""
    with contextlib.suppress(ValueError):
        _reporters.remove(report)


def dump_stacks_on_sigusr1(*, chain: bool = False) -> None:
    """Print every thread's stack to stderr on SIGUSR1 (where stderr is a real file: not under
    a test runner that captures it in memory, nor with stderr closed); ``chain``: then call
    the handler that was there before (an event loop's, see :func:`dump_tasks_on_sigusr1`)."""
    with contextlib.suppress(io.UnsupportedOperation, AttributeError, ValueError, RuntimeError):
        # Once registered, faulthandler does not install its handler again: after an event
        # loop took the signal over and gave it back (faust's worker), start afresh.
        faulthandler.unregister(signal.SIGUSR1)
        faulthandler.register(signal.SIGUSR1, all_threads=True, chain=chain)


def dump_tasks_on_sigusr1(loop: asyncio.AbstractEventLoop) -> None:
    """On SIGUSR1, the thread stacks first (from the signal handler), then ``loop``'s tasks
    (from the loop, as soon as it runs)."""
    # faulthandler's unregister puts back the handler that was there when it registered: do it
    # before the loop's handler is set, or it would replace that one.
    with contextlib.suppress(RuntimeError):
        faulthandler.unregister(signal.SIGUSR1)
    loop.add_signal_handler(signal.SIGUSR1, print_tasks, loop)
    dump_stacks_on_sigusr1(chain=True)  # after the loop's handler: faulthandler calls it on


def print_tasks(loop: asyncio.AbstractEventLoop, out: TextIO | None = None) -> None:
    """Write the tasks of ``loop`` and of every other running event loop (faust's consumer
    thread has its own), each with the stack of the coroutine it waits in."""
    out = sys.stderr if out is None else out
    loops = [loop, *(other for other in running_loops() if other is not loop)]
    for number, each in enumerate(loops):
        try:
            tasks = sorted(asyncio.all_tasks(each), key=lambda task: task.get_name())
        except RuntimeError:  # another thread's loop changed its tasks meanwhile: rare
            continue
        out.write(f"-- {len(tasks)} asyncio tasks of event loop {number} ({each!r}) --\n")
        for task in tasks:
            out.write(f"{task!r}\n")
            with contextlib.suppress(Exception):  # a dump must never take the process down
                out.writelines(f"  {line}\n" for line in awaiting(task.get_coro()))
    print_state(out)


def print_state(out: TextIO | None = None) -> None:
    """Write every state reporter's lines, then :data:`TASKS_DUMPED`."""
    out = sys.stderr if out is None else out
    with contextlib.suppress(Exception):  # a dump must never take the process down
        for report in _reporters:
            with contextlib.suppress(Exception):
                out.writelines(f"{line}\n" for line in report())
        out.write(f"{TASKS_DUMPED}\n")
        out.flush()


def report_state_on_sigusr1() -> None:
    """For a process without an event loop (the delivery consumer): on SIGUSR1 the thread
    stacks (from the signal handler), then the state reporters' lines (from the main thread, as
    soon as it runs Python again; a reporter must only read what its component keeps, never
    call into a client whose lock the interrupted thread may hold)."""
    # As in dump_tasks_on_sigusr1: unregistering puts back the handler from before faulthandler
    # registered, so it comes before the Python handler is set, and registering again after.
    with contextlib.suppress(RuntimeError):
        faulthandler.unregister(signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: print_state())
    dump_stacks_on_sigusr1(chain=True)


def awaiting(coro: object, limit: int = 40) -> list[str]:
    """Where a coroutine is suspended: each coroutine (or generator) it awaits, outermost first,
    as ``file:line in function``. (``Task.print_stack`` shows only the outermost one.)"""
    lines: list[str] = []
    while coro is not None and len(lines) < limit:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return lines


def running_loops() -> list[asyncio.AbstractEventLoop]:
    """Every event loop running in a thread of this process: the one a thread's stack runs
    (``run_forever``'s ``self``; the garbage collector cannot list them once the worker froze
    its start-up objects, see streams/worker/gc_tuning.py)."""
    found: list[asyncio.AbstractEventLoop] = []
    for top in sys._current_frames().values():
        frame: FrameType | None = top
        while frame is not None:
            owner = frame.f_locals.get("self") if frame.f_code.co_name == "run_forever" else None
            if isinstance(owner, asyncio.AbstractEventLoop) and owner not in found:
                found.append(owner)
                break
            frame = frame.f_back
    return found


def request_dump(process: subprocess.Popen[bytes], log_path: Path, wait_s: float = 5.0) -> str:
    """Send a running ``nurture`` process SIGUSR1 and return what it wrote to ``log_path`` (its
    stdout and stderr) in answer: its thread stacks, and a worker's asyncio tasks and state,
    waited for until :data:`TASKS_DUMPED` (at most ``wait_s``; a process without an event loop,
    or whose loop is stuck, writes only the threads': those are waited for one second).
    Empty when the process is not running."""
    if process.poll() is not None:
        return ""
    size = log_path.stat().st_size
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + wait_s
    threads_at: float | None = None
    written = b""
    while time.monotonic() < deadline:
        with log_path.open("rb") as log:
            log.seek(size)
            written = log.read()
        if TASKS_DUMPED.encode() in written:
            break
        if threads_at is None and b"most recent call first" in written:
            threads_at = time.monotonic()
        if threads_at is not None and time.monotonic() - threads_at > 1.0:
            break
        time.sleep(0.05)
    return written.decode(errors="replace")
