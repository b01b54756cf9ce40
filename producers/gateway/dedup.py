"""Which event ids this gateway process already published: idempotent retries within a window.

An id is *pending* from the moment a request starts publishing it until Kafka answered, then
*accepted* for ``window_s`` seconds (or forgotten earlier when more than ``max_ids`` ids are
held: the oldest go first). A retry of an accepted id is reported as a duplicate and not
published again. A request that meets a pending id waits for that publication's outcome instead
of publishing it a second time: accepted -> duplicate; failed -> it publishes the event itself.

The store lives in one process; :mod:`.shared_ids` feeds it the ids other gateway processes
(and this one's earlier lives) accepted, through Kafka, with :meth:`AcceptedIds.learn`.
Used from the event loop thread only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class AcceptedIds:
    """A TTL set of accepted event ids plus the ids being published right now."""

    def __init__(
        self,
        window_s: float,
        max_ids: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_ids = max_ids
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._pending: dict[str, asyncio.Future[bool]] = {}
        #: Ids forgotten before their window ended because of ``max_ids`` (for a metric).
        self.evicted_early = 0

    def __len__(self) -> int:
        return len(self._expiry)

    def is_accepted(self, event_id: str) -> bool:
        """True when ``event_id`` was accepted less than ``window_s`` seconds ago."""
        expiry = self._expiry.get(event_id)
        return expiry is not None and expiry > self._clock()

    def pending(self, event_id: str) -> asyncio.Future[bool] | None:
        """The outcome (True = accepted) of a publication of ``event_id`` still in progress."""
        return self._pending.get(event_id)

    def reserve(self, event_id: str) -> None:
        """Mark ``event_id`` as being published (call :meth:`settle` when Kafka answered)."""
        self._pending[event_id] = asyncio.get_running_loop().create_future()

    def settle(self, event_id: str, accepted: bool) -> None:
        """End the publication of ``event_id``: remember it if accepted, release it if not."""
        waiter = self._pending.pop(event_id, None)
        if accepted:
            self._remember(event_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(accepted)

    def learn(self, event_id: str, age_s: float) -> None:
        """Remember ``event_id``, accepted elsewhere ``age_s`` s ago, for the rest of the window."""
        if self.window_s - age_s > 0 and not self.is_accepted(event_id):
            self._remember(event_id, self.window_s - max(0.0, age_s))

    def _remember(self, event_id: str, window_s: float | None = None) -> None:
        if self.window_s <= 0:
            return
        now = self._clock()
        self._expire(now)
        expiry = now + (self.window_s if window_s is None else window_s)
        self._expiry[event_id] = expiry
        self._order.append((expiry, event_id))
        while len(self._expiry) > self.max_ids and self._order:
            expires, oldest = self._order.popleft()
            if self._expiry.get(oldest) == expires:
                del self._expiry[oldest]
                self.evicted_early += 1

    def _expire(self, now: float) -> None:
        order, expiry = self._order, self._expiry
        while order and order[0][0] <= now:
            expires, event_id = order.popleft()
            if expiry.get(event_id) == expires:
                del expiry[event_id]
