"""As the `nurture` program, a SIGINT while it is still importing ends the process with 130 (not
a traceback from whatever library was being imported) and SIGUSR1 prints stacks instead of
killing it; once the imports are done, SIGINT raises KeyboardInterrupt again, so every command
stops as before. A program that only imports the command line (a test run) is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from deploy.cli.early_interrupt import EXIT_INTERRUPTED

# The interrupt lands inside a class body's __set_name__ (as in a library's import): Python 3.11
# would wrap KeyboardInterrupt in RuntimeError there and exit 1.
DURING_IMPORT = """
import os, signal
from deploy.cli import early_interrupt
early_interrupt.install("__main__")
os.kill(os.getpid(), signal.SIGUSR1)  # stacks, and it goes on
class Field:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000_000):
            pass
class Part:
    data = Field()
print("not reached")
"""

AFTER_RESTORE = """
import os, signal
from deploy.cli import early_interrupt
early_interrupt.install("__main__")
early_interrupt.restore()
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10_000_000):
        pass
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


def _deliverable_sigint() -> None:
    """In the child, before Python starts: SIGINT at its default. A runner started in the
    background of a shell without job control ignores SIGINT, every child inherits that, and
    Python then installs no KeyboardInterrupt handler at all (these tests failed that way in a
    CI run launched with `( ... &)`); a terminal's Ctrl-C is what they are about."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ignored_sigint() -> None:
    """In the child: SIGINT ignored, as a shell without job control starts background jobs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(*args: str, ignored: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_ignored_sigint if ignored else _deliverable_sigint,
    )


def test_a_sigint_during_the_imports_exits_130_and_a_sigusr1_prints_stacks() -> None:
    done = _run("-c", DURING_IMPORT)
    assert done.returncode == EXIT_INTERRUPTED == 130
    assert "most recent call first" in done.stderr  # the SIGUSR1 stacks
    assert done.stderr.strip().endswith("nurture: interrupted during start-up")
    assert "Traceback" not in done.stderr
    assert "not reached" not in done.stdout


def test_after_the_imports_sigint_raises_keyboard_interrupt_again() -> None:
    done = _run("-c", AFTER_RESTORE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "KeyboardInterrupt"


def test_importing_the_command_line_leaves_another_program_s_signals_alone() -> None:
    done = _run(
        "-c",
        "import signal\nimport deploy.cli.main\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_the_program_gives_sigint_back_once_its_imports_are_done() -> None:
    # `python -m deploy.cli.main` installs the start-up handler; the command's callback runs
    # after every import and restores KeyboardInterrupt (what `nurture topics --help` prints
    # is beside the point: the callback runs before it).
    done = _run(
        "-c",
        "import runpy, signal, sys\n"
        "sys.argv = ['nurture', '--bootstrap', '127.0.0.1:1', 'topics', '--help']\n"
        "seen = []\n"
        "real = signal.signal\n"
        "def spy(sig, handler):\n"
        "    if sig == signal.SIGINT: seen.append(handler is signal.default_int_handler)\n"
        "    return real(sig, handler)\n"
        "signal.signal = spy\n"
        "try:\n"
        "    runpy.run_module('deploy.cli.main', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(seen)\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[False, True]"  # installed, then restored


# The worker holds SIGINT until faust's event loop takes it over: a library that swallows
# KeyboardInterrupt in between (kafka-python waiting on its I/O thread did) cannot keep it
# running.
HELD_UNTIL_REPLACED = """
import asyncio, os, signal
from deploy.cli import early_interrupt
early_interrupt.install("__main__")
early_interrupt.restore()
early_interrupt.hold_until_replaced()
if os.environ.get("LOOP_TAKES_OVER"):
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGINT, lambda: (print("the loop's handler"), loop.stop()))
    loop.call_later(0.0, os.kill, os.getpid(), signal.SIGINT)
    loop.run_forever()
else:
    try:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000_000):
            pass
    except BaseException:  # what a swallowing library does
        pass
print("ran on")
"""


def test_a_held_sigint_ends_the_worker_start_up_even_inside_a_swallowing_library() -> None:
    done = _run("-c", HELD_UNTIL_REPLACED)
    assert done.returncode == EXIT_INTERRUPTED, done.stderr
    assert "ran on" not in done.stdout


def test_a_worker_started_with_sigint_ignored_still_ends_on_one_while_starting() -> None:
    """faust takes SIGINT over once it runs, whatever the parent left: during the start-up the
    signal ends the worker too instead of being lost (CI runs its tests in the background, and
    a worker of tests/test_worker_group.py interrupted while starting ran on)."""
    done = _run("-c", HELD_UNTIL_REPLACED, ignored=True)
    assert done.returncode == EXIT_INTERRUPTED, done.stderr
    assert "ran on" not in done.stdout


def test_with_sigint_ignored_the_imports_still_end_on_one_and_the_command_ignores_it() -> None:
    during = _run("-c", DURING_IMPORT, ignored=True)
    assert during.returncode == EXIT_INTERRUPTED, during.stderr
    after = _run("-c", AFTER_RESTORE, ignored=True)
    assert after.returncode == 0, after.stderr
    assert "KeyboardInterrupt" not in after.stdout  # the parent's ignore is back


def test_the_held_sigint_goes_to_the_event_loop_once_it_takes_the_signal_over() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELD_UNTIL_REPLACED],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_deliverable_sigint,
        env={**os.environ, "LOOP_TAKES_OVER": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["the", "loop's", "handler", "ran", "on"]
