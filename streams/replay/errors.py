"""Errors of the replay tools; each says what to do next."""

from __future__ import annotations

from schemas.errors import NurtureError


class ReplayError(NurtureError):
    """Raised when a replay, shadow run, redrive or import cannot go ahead (message says why)."""


class GroupActiveError(ReplayError):
    """Raised by a rebuild while the worker's consumer group still has members."""

    def __init__(self, group: str, members: list[str]) -> None:
        self.group = group
        self.members = members
        hosts = ", ".join(sorted(set(members))) or "unknown hosts"
        super().__init__(
            f"consumer group {group!r} has {len(members)} active member(s) ({hosts}): stop every "
            "`nurture worker` of this app id first (a rebuild resets its offsets and state)"
        )


class TimeFormatError(ReplayError):
    """Raised when a ``--from``/``--to``/``--since`` value is not a time this tool understands."""
