"""Per-API-key rate limits: a token bucket counted in events (a batch of 100 costs 100).

Each bucket holds up to ``burst`` tokens and refills at ``rate_per_s``. A request that costs more
than the bucket holds is refused whole, with the seconds until enough tokens are back
(the ``Retry-After`` of the 429). Counting events rather than requests makes a batch of 500 and
500 single requests cost the same, which is what loads Kafka and the stream workers.
Single-threaded (the event loop), so no locks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from producers.gateway.auth import Caller
from producers.gateway.errors import RateLimitedError


class TokenBucket:
    """``burst`` tokens, refilled continuously at ``rate_per_s``; starts full."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def take(self, cost: int, now: float) -> float:
        """Take ``cost`` tokens and return 0, or take nothing and return seconds to wait."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._updated = now
        if cost <= self._tokens:
            self._tokens -= cost
            return 0.0
        return (cost - self._tokens) / self.rate_per_s


class RateLimiter:
    """One :class:`TokenBucket` per API key, sized by the key's source system.

    ``limit_of(source)`` gives ``(events per second, burst)`` for each key of that source
    (:meth:`GatewaySettings.rate_limit_of`): keys of one source, e.g. old and new during a
    rotation, or one per instance of a system, have a bucket each.
    """

    def __init__(
        self,
        limit_of: Callable[[str], tuple[float, int]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit_of = limit_of
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def charge(self, caller: Caller, cost: int) -> None:
        """Spend ``cost`` tokens of the caller's key or raise :class:`RateLimitedError` (429)."""
        now = self._clock()
        bucket = self._buckets.get(caller.key_id)
        if bucket is None:
            rate_per_s, burst = self._limit_of(caller.source)
            bucket = self._buckets[caller.key_id] = TokenBucket(rate_per_s, burst, now)
        wait_s = bucket.take(cost, now)
        if wait_s > 0:
            retry_after = max(1, math.ceil(wait_s))
            raise RateLimitedError(
                f"rate limit of {bucket.rate_per_s:g} events/s (burst {bucket.burst}) exceeded "
                f"for this API key of {caller.source!r}; retry in {retry_after} s",
                retry_after_s=retry_after,
            )
