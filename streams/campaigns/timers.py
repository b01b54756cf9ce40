"""The timer index: due-time buckets -> candidate ids, so a tick reads only the buckets now due.

Each candidate registers at most one wake-up (``CampaignState.wake``, the earliest time anything
of theirs is due: a step after a wait, a held action's release, an inactivity deadline). The
index maps the minute bucket of that time to the candidate ids, in any ``MutableMapping``: a
dict in tests and replays, a faust table (through a small serialising adapter) in the worker.
Keys::

    timers/<partition>/<bucket>   {candidate_id: 1, ...}   bucket = due_us // bucket_us
    timers/<partition>/meta       {"drained": last bucket read, "low": first bucket that may
                                   hold entries, "pending": entries in the index}

A tick (:meth:`TimerIndex.take_due`) reads the buckets from ``low`` to the last *completed*
bucket before ``now`` and deletes them: every bucket is read once, none is scanned, the
population size does not matter. An entry for a time already drained goes into the next bucket
to be read. Entries are hints: the engine decides from the candidate's own state what is due, so
a stale entry (the candidate exited since) costs one row read and nothing else.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from streams.campaigns.durations import MINUTE_US

DEFAULT_BUCKET_US = MINUTE_US
#: Most buckets one tick reads (after a long outage the next ticks catch up).
DEFAULT_MAX_BUCKETS = 1440


class TimerIndex:
    """The due-time index of one source partition, stored in ``store``."""

    def __init__(
        self,
        store: MutableMapping[str, Any],
        *,
        partition: int = 0,
        bucket_us: int = DEFAULT_BUCKET_US,
    ) -> None:
        if bucket_us <= 0:
            raise ValueError("bucket_us must be > 0")
        self.store = store
        self.partition = partition
        self.bucket_us = bucket_us
        self._meta_key = f"timers/{partition}/meta"

    def bucket_of(self, due_us: int) -> int:
        return due_us // self.bucket_us

    def bucket_key(self, bucket: int) -> str:
        return f"timers/{self.partition}/{bucket}"

    def add(self, candidate_id: str, due_us: int) -> int:
        """Register ``candidate_id`` to wake at ``due_us``; returns the bucket it went into."""
        meta = self._meta()
        bucket = self.bucket_of(due_us)
        drained = meta["drained"]
        if drained is not None and bucket <= drained:
            bucket = drained + 1  # already read past it: wake at the next tick
        key = self.bucket_key(bucket)
        members = dict(self.store.get(key) or {})
        if candidate_id in members:
            return bucket
        members[candidate_id] = 1
        self.store[key] = members
        meta["pending"] += 1
        meta["low"] = bucket if meta["low"] is None else min(meta["low"], bucket)
        self.store[self._meta_key] = meta
        return bucket

    def remove(self, candidate_id: str, due_us: int) -> bool:
        """Drop the entry of ``candidate_id`` at ``due_us`` (False when there is none)."""
        key = self.bucket_key(self.bucket_of(due_us))
        members = self.store.get(key)
        if not members or candidate_id not in members:
            return False
        members = {cid: 1 for cid in members if cid != candidate_id}
        if members:
            self.store[key] = members
        else:
            del self.store[key]
        meta = self._meta()
        meta["pending"] -= 1
        self.store[self._meta_key] = meta
        return True

    def take_due(self, now_us: int, *, max_buckets: int = DEFAULT_MAX_BUCKETS) -> list[str]:
        """Remove and return the candidates of every completed bucket before ``now_us``.

        Candidate ids come in bucket order, each once. Call :meth:`Engine.on_timer` for each.
        """
        meta = self._meta()
        last = self.bucket_of(now_us) - 1
        low = meta["low"]
        if not meta["pending"] or low is None:
            idle = {
                **meta,
                "low": None,
                "drained": last if meta["drained"] is None else max(meta["drained"], last),
            }
            if idle != meta:  # an idle tick within the same bucket writes nothing
                self.store[self._meta_key] = idle
            return []
        if low > last:
            return []
        end = min(last, low + max_buckets - 1)
        due: dict[str, None] = {}
        taken = 0
        for bucket in range(low, end + 1):
            key = self.bucket_key(bucket)
            members = self.store.get(key)
            if members:
                taken += len(members)
                due.update(dict.fromkeys(members))
                del self.store[key]
        meta["drained"] = end
        meta["pending"] = max(meta["pending"] - taken, 0)
        meta["low"] = end + 1 if meta["pending"] else None
        self.store[self._meta_key] = meta
        return list(due)

    def behind(self, now_us: int) -> bool:
        """True when entries wait in completed buckets a tick has not read yet (``max_buckets``
        stopped it): call :meth:`take_due` again."""
        meta = self._meta()
        low = meta["low"]
        return bool(meta["pending"]) and low is not None and low <= self.bucket_of(now_us) - 1

    def pending(self) -> int:
        """Entries waiting in the index."""
        return int(self._meta()["pending"])

    def _meta(self) -> dict[str, Any]:
        meta = self.store.get(self._meta_key)
        return dict(meta) if meta else {"drained": None, "low": None, "pending": 0}
