"""Pointing faust's "current event" at the event whose partition a table write belongs to.

Faust tables write a key to the local store partition and the changelog partition of the
*current event* (a context variable its stream iterator sets). A batch from ``take_events`` holds
events of several partitions, and the agent's task does not even see the iterator's context, so
before touching a candidate's row the agent makes one of that candidate's events current: the
row then lives on the partition of its events, as co-partitioning requires.
"""

from __future__ import annotations

import weakref
from typing import Any

from faust.streams import _current_event


def make_current(event: Any) -> None:
    """Make ``event`` faust's current event in this task (table reads/writes use its partition)."""
    _current_event.set(weakref.ref(event))


def clear_current() -> None:
    """Forget the current event (table access outside an event then searches every partition)."""
    _current_event.set(None)
