"""The engagement part of a candidate's table row: what the score model remembers.

All sums are relative to ``last_activity_us``, the newest ``occurred_at`` applied, called *R*:

``totals``
    event type -> its score contribution at R (its buckets with cap and decay, summed).
``buckets``
    event type -> one flat list of buckets, one per UTC day with events of that type, days
    ascending: ``[day, count, sum, newest, day, count, sum, newest, ...]``. ``day`` is a day
    number (days since the epoch), ``count`` how many events of the type happened that day,
    ``sum`` their weights decayed to ``newest``, the newest of those events (epoch µs). Kept so
    a late event can join its day and re-apply the daily cap, and so days leaving the horizon
    can be dropped. One flat list per type (not a list per day or per field) keeps the row
    small and the objects a worker touches per event few.
``recent_ids``
    fingerprints of the last ``recent_ids`` applied event ids, oldest first, concatenated into one
    string (:data:`ID_TOKEN_WIDTH` characters each, see :func:`id_token`). One string instead of
    a list or set keeps the row small and makes loading it free; a lookup is a substring search.

The row is JSON-shaped in memory, so :meth:`EngagementState.to_dict` and
:meth:`EngagementState.from_dict` copy nothing: they hand over the same dicts and lists.
``to_dict`` output is meant to be serialised right away (orjson), not kept while the state changes.
"""

from __future__ import annotations

from binascii import b2a_base64
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from schemas.errors import ConfigError

#: Version of the row layout written by :meth:`EngagementState.to_dict`.
STATE_FORMAT = 1
#: Characters of one event id fingerprint in ``recent_ids``.
ID_TOKEN_WIDTH = 12
#: Values per bucket in a type's flat ``buckets`` list: day, count, sum, newest.
BUCKET_WIDTH = 4


class StateModelMismatchError(ConfigError):
    """Raised when a state built by one model version meets another model.

    Scores in the state were computed with the old weights and half-lives, so mixing them would
    give wrong numbers. Changing the model means a replay: rebuild the table from
    candidate.activity (whose retention equals the model's horizon).
    """

    def __init__(self, state_version: str, model_version: str) -> None:
        self.state_version = state_version
        self.model_version = model_version
        super().__init__(
            f"engagement state was built by scoring model {state_version!r} but the worker runs "
            f"{model_version!r}: replay candidate.activity into a fresh table for the new model"
        )


class StateFormatError(ConfigError):
    """Raised by :meth:`EngagementState.from_dict` on a row of an unknown layout version."""


@dataclass(slots=True)
class EngagementState:
    """A candidate's scoring state; ``apply_event`` mutates it in place.

    ``new_state()`` makes the state of a candidate without events.
    """

    #: Version of the model that built the state (None until the first event).
    model_version: str | None = None
    #: Newest occurred_at applied (epoch µs UTC): the reference time R of the sums.
    last_activity_us: int | None = None
    #: Event type -> score contribution at R.
    totals: dict[str, float] = field(default_factory=dict)
    #: Event type -> [day, count, sum, newest, ...] by ascending day (see the module doc).
    buckets: dict[str, list[Any]] = field(default_factory=dict)
    #: The oldest day in ``buckets`` (None when empty): the horizon check is one comparison.
    oldest_day: int | None = None
    #: Fingerprints of recently applied event ids, oldest first (see :func:`id_token`).
    recent_ids: str = ""
    #: The last applied event (arrival order) and where it came from.
    last_event_id: str | None = None
    last_event_type: str | None = None
    source_partition: int = -1
    source_offset: int = -1
    #: Tier after the last applied event, and the tier before it (None: no event before).
    tier: str | None = None
    previous_tier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-safe data. Shares its dicts with the state: serialise it at once."""
        return {
            "v": STATE_FORMAT,
            "model": self.model_version,
            "at": self.last_activity_us,
            "totals": self.totals,
            "buckets": self.buckets,
            "oldest": self.oldest_day,
            "ids": self.recent_ids,
            "last_id": self.last_event_id,
            "last_type": self.last_event_type,
            "partition": self.source_partition,
            "offset": self.source_offset,
            "tier": self.tier,
            "prev_tier": self.previous_tier,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngagementState:
        """The state in ``data`` (from :meth:`to_dict`, e.g. via orjson); adopts its dicts.

        Raises :class:`StateFormatError` for a layout version this code does not know.
        """
        if data.get("v") != STATE_FORMAT:
            raise StateFormatError(
                f"engagement state layout v{data.get('v')} is not the one this worker reads "
                f"(v{STATE_FORMAT})"
            )
        return cls(
            data["model"],
            data["at"],
            data["totals"],
            data["buckets"],
            data["oldest"],
            data["ids"],
            data["last_id"],
            data["last_type"],
            data["partition"],
            data["offset"],
            data["tier"],
            data["prev_tier"],
        )

    def has_seen(self, token: str) -> bool:
        """True when an event id with fingerprint ``token`` is among the recent ids."""
        ring = self.recent_ids
        at = ring.find(token)
        while at != -1:
            if not at % ID_TOKEN_WIDTH:
                return True
            at = ring.find(token, at + 1)
        return False

    def remember(self, token: str, limit: int) -> None:
        """Add ``token`` to the recent ids, forgetting the oldest beyond ``limit`` of them."""
        ring = self.recent_ids + token
        if len(ring) > limit * ID_TOKEN_WIDTH:
            ring = ring[-limit * ID_TOKEN_WIDTH :]
        self.recent_ids = ring


def id_token(event_id: str) -> str:
    """A fixed-width fingerprint of ``event_id``: 72 bits of BLAKE2b as 12 base64 characters.

    Fixed width keeps the id ring compact whatever the producers' id format (a UUID is 36
    characters). Two different ids share a fingerprint with probability 2**-72 per pair, so a
    false duplicate among 512 remembered ids is about 1e-19 per event.
    """
    digest = blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=9).digest()
    return b2a_base64(digest, newline=False).decode("ascii")


def new_state() -> EngagementState:
    """The state of a candidate without events (score 0, no tier yet)."""
    return EngagementState()
