"""Sends held while a view waits for the schema registry: the pause, the log lines, the gauge.

A view (profiles, unsubscribes, outcomes) stops at a record whose schema id is not cached while
the registry does not answer (:class:`~consumers.mirror.ViewStalledError`): the delivery loop
then hands its batch back to Kafka unhandled, waits, and catches up again. :class:`RegistryWait`
keeps that account: how long to wait (:func:`next_wait_s`), one warning when the wait begins and
one when the views caught up again (topic, partition, offset and the registry's answer; never a
key or candidate), ``nurture_delivery_view_waiting_for_schema_registry{topic}`` and
``waiting_for`` in ``GET /health``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from consumers.liveness import CommitWatch
from consumers.metrics import DeliveryMetrics
from consumers.mirror import ViewStalledError

log = logging.getLogger(__name__)

#: The first pause before a stalled view is read again, doubled per try; the longest (seconds).
#: The loop caps it further, at half of ``MAX_POLL_INTERVAL_S`` and of the stall timeout.
MIN_WAIT_S = 0.5
MAX_WAIT_S = 60.0


def next_wait_s(tries: int, retry_after_s: float | None) -> float:
    """Seconds before reading again after ``tries`` (>= 1) catch-ups in a row stopped at the
    registry (pure): until the resolver asks the registry again (``retry_after_s``; its window
    grows while the registry stays down), at least :data:`MIN_WAIT_S` doubled per try (a
    window of 0 does not make a busy loop), at most :data:`MAX_WAIT_S`."""
    floor_s = MIN_WAIT_S * 2.0 ** min(tries - 1, 16)
    return min(MAX_WAIT_S, max(floor_s, retry_after_s or 0.0))


def wait_cap_s(max_poll_interval_s: float, stall_timeout_s: float | None) -> float:
    """The longest pause of the delivery loop while a view waits (pure): half of
    ``MAX_POLL_INTERVAL_S`` (the group drops a member that does not poll within it) and half of
    the stall timeout (the watch ends a loop that does not come back within it)."""
    halves = [max_poll_interval_s / 2]
    if stall_timeout_s is not None:
        halves.append(stall_timeout_s / 2)
    return min(halves)


class RegistryWait:
    """The delivery loop's account of its views waiting for the schema registry.

    ``topics`` are the views' topics: each gauge series exists from the start, at 0.
    """

    def __init__(
        self,
        metrics: DeliveryMetrics,
        topics: Iterable[str],
        watch: CommitWatch | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._watch = watch
        self._clock = clock
        #: Catch-ups in a row that stopped at the registry.
        self.tries = 0
        #: Since when (``clock``) sends are held, or None.
        self.since: float | None = None
        self._topic: str | None = None
        for topic in topics:
            metrics.view_waiting(topic, False)

    def stalled(self, error: ViewStalledError) -> float:
        """Record that a catch-up stopped at ``error``; the seconds to wait before the next."""
        now = self._clock()
        self.tries += 1
        wait_s = next_wait_s(self.tries, error.retry_after_s)
        if self.since is None:
            self.since = now
            log.warning("%s; sends held until it is read (next try in %.1f s)", error, wait_s)
        else:
            log.info(
                "%s; sends held for %.0f s (next try in %.1f s)", error, now - self.since, wait_s
            )
        if self._topic is not None and self._topic != error.topic:
            self._metrics.view_waiting(self._topic, False)
        self._topic = error.topic
        self._metrics.view_waiting(error.topic, True)
        if self._watch is not None:
            self._watch.waiting_for = f"schema registry ({error.topic})"
        return wait_s

    def caught_up(self) -> None:
        """Every view caught up: sends go on (a no-op unless they were held)."""
        if self.since is None:
            return
        log.warning(
            "views caught up after %.0f s waiting for the schema registry (%d tries): sends go on",
            self._clock() - self.since,
            self.tries,
        )
        if self._topic is not None:
            self._metrics.view_waiting(self._topic, False)
        if self._watch is not None:
            self._watch.waiting_for = None
        self.tries, self.since, self._topic = 0, None, None
