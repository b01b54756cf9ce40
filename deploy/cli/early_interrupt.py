"""While ``nurture`` is still importing, a SIGINT ends it at once (exit status 130) and a SIGUSR1
prints its threads' stacks; neither kills it with a misleading error.

Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the interpreter is, and during
start-up that is deep inside some library's import, where it may come out as another error: a
class body's ``__set_name__`` wraps it in ``RuntimeError`` (exit 1, with a traceback that looks
like a broken install; seen under ``nurture chaos``). Nothing has been read or written yet, so
the process simply ends, as an interrupt should. SIGUSR1's default action would end the process
too (the chaos harness asks every running worker for its stacks when a run stalls).
:func:`restore` gives SIGINT back to Python's ``KeyboardInterrupt`` once the imports are done,
so every command stops as it always has (faust's worker then takes SIGINT over for its own
graceful stop, delivery its own handler).

A parent may have left SIGINT ignored: a shell without job control starts background commands
so (``( nurture worker & )``, CI scripts), and every child inherits it. The imports end on a
SIGINT all the same (nothing is done yet), then :func:`restore` puts the ignore back for the
command; the worker and delivery, whose runtimes take SIGINT over whatever the parent left,
hold it until they do (:func:`hold_until_replaced`) instead of losing the start-up's signals.

Only the ``nurture`` program installs this (:func:`install`); a test run or another program
that imports the command line keeps its own signal handling.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any

from schemas.stack_dump import dump_stacks_on_sigusr1

#: Exit status of a process interrupted during start-up (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: Whether :func:`install` found this process to be the ``nurture`` program.
_program = False
#: SIGINT's disposition before :func:`install` took it over (Python's default, or ignored).
_before: Any = signal.default_int_handler
#: The console script's name (``pyproject.toml``).
PROGRAM = "nurture"


def _interrupted(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("nurture: interrupted during start-up\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def is_program(module_name: str) -> bool:
    """True when the running program is ``nurture``: ``python -m deploy.cli.main`` (the module
    runs as ``__main__``) or the ``nurture`` console script."""
    return module_name == "__main__" or (
        bool(sys.argv) and os.path.basename(sys.argv[0]) == PROGRAM
    )


def install(module_name: str) -> None:
    """Take SIGINT and SIGUSR1 over for the imports when ``module_name`` (the importing
    module's ``__name__``) shows this process is the ``nurture`` program."""
    if not is_program(module_name):
        return
    global _program, _before  # noqa: PLW0603 - set once per process, at start-up
    _program = True
    dump_stacks_on_sigusr1()
    _before = signal.getsignal(signal.SIGINT)
    # Also when a parent left SIGINT ignored: see hold_until_replaced. (Another handler a test
    # or an embedding program set stays.)
    if _before in (signal.default_int_handler, signal.SIG_IGN):
        signal.signal(signal.SIGINT, _interrupted)


def restore() -> None:
    """SIGINT as it was before :func:`install`: ``KeyboardInterrupt`` (Python's default), or
    ignored when the parent ignored it."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, _before)


def hold_until_replaced() -> None:
    """For a command whose own runtime takes SIGINT over later (the worker: faust's event loop
    sets its handler as it starts, before it consumes anything): until then a SIGINT ends the
    process at once (exit 130), as during the imports. ``KeyboardInterrupt`` is not safe there:
    raised in the middle of a Kafka client call it was swallowed (kafka-python waits on its
    I/O thread), so a worker interrupted while starting ran on and never stopped (seen in
    tests/test_worker_group.py). Only where :func:`install` applies (the ``nurture`` program).

    Also when a parent left SIGINT ignored (a shell without job control starts background
    commands so, ``( nurture worker & )``, and every child inherits it): faust's loop takes
    SIGINT over all the same once it runs, so honouring the ignore until then only lost the
    signals of the start-up. A worker interrupted while starting went on running; the test
    harness, itself run in the background on CI, lost them that way (CI at stop 22)."""
    if _program and signal.getsignal(signal.SIGINT) in (
        signal.default_int_handler,
        signal.SIG_IGN,
    ):
        signal.signal(signal.SIGINT, _interrupted)
