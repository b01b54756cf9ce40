"""A SIGINT while ``nurture`` is still importing ends it at once, with exit status 130.

Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the interpreter is, and during
start-up that is deep inside some library's import, where it may come out as another error: a
class body's ``__set_name__`` wraps it in ``RuntimeError`` (exit 1, with a traceback that looks
like a broken install; seen under ``nurture chaos``). Nothing has been read or written yet, so
the process simply ends, as an interrupt should. :func:`restore` gives SIGINT back to Python's
``KeyboardInterrupt`` once the imports are done, so every command stops as it always has
(faust's worker then takes SIGINT over for its own graceful stop).

Import this module first: it does its work on import.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

#: Exit status of a process interrupted during start-up (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def _interrupted(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("nurture: interrupted during start-up\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def restore() -> None:
    """SIGINT raises ``KeyboardInterrupt`` again (Python's default), unless it is ignored."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored by a parent
    signal.signal(signal.SIGINT, _interrupted)
