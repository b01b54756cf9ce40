"""A SIGINT while `nurture` is still importing ends the process with 130 (not a traceback from
whatever library was being imported); once the imports are done, SIGINT raises
KeyboardInterrupt again, so every command stops as before."""

from __future__ import annotations

import subprocess
import sys

from deploy.cli.early_interrupt import EXIT_INTERRUPTED

# The interrupt lands inside a class body's __set_name__ (as in a library's import): Python 3.11
# would wrap KeyboardInterrupt in RuntimeError there and exit 1.
DURING_IMPORT = """
import os, signal
import deploy.cli.early_interrupt
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
early_interrupt.restore()
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10_000_000):
        pass
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_sigint_during_the_imports_exits_130_without_a_traceback() -> None:
    done = _run(DURING_IMPORT)
    assert done.returncode == EXIT_INTERRUPTED == 130
    assert done.stderr.strip() == "nurture: interrupted during start-up"
    assert "not reached" not in done.stdout


def test_after_the_imports_sigint_raises_keyboard_interrupt_again() -> None:
    done = _run(AFTER_RESTORE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "KeyboardInterrupt"


def test_the_command_line_restores_sigint_once_its_imports_are_done() -> None:
    done = _run(
        "import signal, sys\n"
        "from typer.testing import CliRunner\n"
        "from deploy.cli.main import app\n"
        "assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler\n"
        "CliRunner().invoke(app, ['topics', '--help'])\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
