"""A stopped worker ends even when a thread it started is left running (mode's consumer thread
once outlived faust's stop under `nurture chaos`, and Python waited for it at exit for ever)."""

from __future__ import annotations

import subprocess
import sys

import pytest

LEFT_RUNNING = (
    "import threading\n"
    "from streams.worker.run import end_process\n"
    "threading.Thread(target=threading.Event().wait, name='stuck').start()\n"
    "end_process({code!r})\n"
)


@pytest.mark.parametrize(("code", "status"), [(0, 0), (None, 0), (3, 3), ("failed", 1)])
def test_the_process_ends_with_faust_s_status_despite_a_thread_left_running(
    code: object, status: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LEFT_RUNNING.format(code=code)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == status, done.stderr


def test_without_it_python_waits_for_the_thread() -> None:
    """The premise: a non-daemon thread keeps a finished Python process alive."""
    script = "import threading\nthreading.Thread(target=threading.Event().wait).start()\n"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", script], timeout=3, check=False)
