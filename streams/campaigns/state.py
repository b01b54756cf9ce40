"""The campaign part of a candidate's table row: a JSON-safe dict the engine reads and returns.

Layout (``"v": 1``; times are epoch µs UTC)::

    active    campaign id -> {"ver", "next" (step id), "due", "trigger" (event id), "entered"}
    history   campaign id -> {"entered", "ended" (None while active), "why"}
    held      [{"release", "campaign", "step", "action" (JSON action)}] sorted by release
    sent      cap name -> [[at, action_id], ...] sends counted by frequency caps (last 8 days)
    content   content ids already sent, oldest first (at most Policy.remembered_content)
    seen      event type -> newest occurred_at of that type (conditions, inactivity)
    unsub     unsubscribe channel (``email``, ``all``, ...) -> when
    inactive  campaign id -> the last-activity time its inactivity trigger already fired for
    wake      the due time registered in the timer index for this candidate (None: none)

The engine never mutates the dict it is given: :func:`load` copies what it will change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.errors import ConfigError

STATE_FORMAT = 1


class CampaignStateFormatError(ConfigError):
    """Raised when a row holds campaign state of a layout this code does not know."""


@dataclass(slots=True)
class CampaignState:
    """Mutable working copy of one candidate's campaign state."""

    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)
    sent: dict[str, list[list[Any]]] = field(default_factory=dict)
    content: list[str] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    unsub: dict[str, int] = field(default_factory=dict)
    inactive: dict[str, int] = field(default_factory=dict)
    wake: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_FORMAT,
            "active": self.active,
            "history": self.history,
            "held": self.held,
            "sent": self.sent,
            "content": self.content,
            "seen": self.seen,
            "unsub": self.unsub,
            "inactive": self.inactive,
            "wake": self.wake,
        }

    def last_activity(self, ignore: tuple[str, ...] = ()) -> int | None:
        """Newest event time over every type not in ``ignore`` (None: no such event yet)."""
        times = [at for kind, at in self.seen.items() if kind not in ignore]
        return max(times) if times else None


def load(data: dict[str, Any] | None) -> CampaignState:
    """A working copy of the state in ``data`` (a new state for None or ``{}``)."""
    if not data:
        return CampaignState()
    if data.get("v") != STATE_FORMAT:
        raise CampaignStateFormatError(
            f"campaign state layout v{data.get('v')} is not the one this worker reads "
            f"(v{STATE_FORMAT})"
        )
    return CampaignState(
        active={key: dict(value) for key, value in data["active"].items()},
        history={key: dict(value) for key, value in data["history"].items()},
        held=[dict(item) for item in data["held"]],
        sent={key: [list(pair) for pair in value] for key, value in data["sent"].items()},
        content=list(data["content"]),
        seen=dict(data["seen"]),
        unsub=dict(data["unsub"]),
        inactive=dict(data["inactive"]),
        wake=data["wake"],
    )
