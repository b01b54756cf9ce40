"""Children of `nurture up` stop when the supervisor dies, even by SIGKILL.

The supervisor stops its children in order on Ctrl-C / SIGTERM; if it is killed outright (OOM
killer, ``kill -9``) nothing would stop them, and orphaned consumers would keep their group
memberships and ports. On Linux each child asks the kernel for SIGTERM when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), so it shuts down gracefully like on a normal stop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def terminate_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen`` (None where the kernel has no such call)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name, use_errno=True)

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return arm
