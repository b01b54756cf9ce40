"""Which exit statuses a kill explains; every other exit is a finding (pure).

A worker or delivery consumer stopped by SIGTERM or SIGINT finishes what it holds and exits 0
(the worker also when it was stopped in the middle of a batch). A signal that arrives before the
process has installed its own handlers ends it otherwise, depending on where start-up was:

* SIGTERM: the default action, which :mod:`subprocess` reports as ``-15``;
* SIGINT: while ``nurture`` imports its modules, exit ``130`` at once
  (:mod:`deploy.cli.early_interrupt`; the worker keeps that until faust's loop takes the signal
  over); after that ``KeyboardInterrupt`` wherever Python was:
  uncaught it gives ``-2``; inside the typer command (before faust took the signal over) typer
  turns it into exit ``130`` without a word; while Python was still importing its site packages
  (before ``nurture``'s first line) it gives ``1`` with a ``KeyboardInterrupt`` traceback as the
  last line of output (click's ``Aborted!`` likewise);
* SIGKILL: always ``-9``.

Anything else is unexpected: ``1`` otherwise (Kafka unreachable, another failure), ``2`` (a
configuration error),
``70`` (an agent failed on a batch, :mod:`streams.worker.liveness`), ``75`` (offsets stopped
advancing while records waited, worker or delivery), death by another signal, and any exit the
harness did not cause.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping

from consumers.liveness import EXIT_STALLED as DELIVERY_STALLED
from deploy.chaos.schedule import KillKind
from streams.worker.liveness import EXIT_AGENT_CRASHED, EXIT_STALLED

EXPLAINED: Mapping[KillKind, frozenset[int]] = {
    "SIGTERM": frozenset({0, -signal.SIGTERM}),
    "SIGINT": frozenset({0, -signal.SIGINT, 130}),
    "SIGKILL": frozenset({-signal.SIGKILL}),
}

_MEANINGS: Mapping[int, str] = {
    0: "stopped cleanly",
    130: "interrupted during start-up",
    1: "Kafka unreachable or another failure",
    2: "configuration error",
    EXIT_AGENT_CRASHED: "an agent failed on a batch",
    EXIT_STALLED: "stalled: offsets stopped advancing",
    DELIVERY_STALLED: "stalled: offsets stopped advancing",
}


#: Last lines of output that show a SIGINT arrived before the process handled signals itself.
INTERRUPTED_EARLY = frozenset({"KeyboardInterrupt", "Aborted!"})


def explained(kind: KillKind | None, code: int, last_line: str | None = None) -> bool:
    """True when a process sent ``kind`` (None: nothing was sent) may exit with ``code``;
    ``last_line`` is the last line the process wrote (see the module docstring)."""
    if kind is None:
        return False
    if kind == "SIGINT" and code == 1:
        return last_line is not None and last_line.strip() in INTERRUPTED_EARLY
    return code in EXPLAINED[kind]


def meaning(code: int) -> str:
    """A few words on what exit status ``code`` says about the process."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return _MEANINGS.get(code, "exited with an error")
