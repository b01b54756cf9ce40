"""Is Kafka reachable? The readiness probe and the fast-fail fuse shared by the publishers.

The probe is a metadata round trip for the gateway's own topics through the live producer's
connections (each publisher's :meth:`KafkaHealth.answers`), not a throw-away client asking for
every topic of the cluster: cheap on a busy broker, and it tests the connections that publish.
"""

from __future__ import annotations

import asyncio
import time

from schemas.errors import KafkaUnavailableError, NurtureError
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE


class KafkaHealth:
    """Readiness of the cluster, shared by the publishers: probed, cached, and used as a fuse.

    After a publish hit an unreachable Kafka, later publishes first ask :meth:`ready` (a real
    metadata round trip, at most once a second) and fail fast with
    :class:`KafkaUnavailableError` while it says no, instead of each waiting for the ack timeout.
    """

    def __init__(self, kafka: KafkaSettings, probe_timeout_s: float) -> None:
        self.kafka = kafka
        self.probe_timeout_s = probe_timeout_s
        #: Monotonic time of the last publish that hit an unreachable Kafka (None: healthy).
        self._failing_since: float | None = None
        self._probe: tuple[float, bool] | None = None
        self._probe_lock = asyncio.Lock()
        #: The topics the gateway writes, full names: the only ones the probe asks about.
        self.topics = [kafka.topic(ACTIVITY), kafka.topic(PROFILE)]

    def connected(self) -> bool:
        """True once the producer is built and connected (subclasses)."""
        raise NotImplementedError

    async def answers(self) -> bool:
        """One metadata round trip for :attr:`topics` on the live producer, bounded by
        ``probe_timeout_s``; False when not connected (subclasses)."""
        raise NotImplementedError

    async def ready(self) -> bool:
        """True when Kafka answers metadata for our topics (probed at most once a second)."""
        async with self._probe_lock:
            now = time.monotonic()
            if self._probe is not None and now - self._probe[0] < 1.0:
                return self._probe[1] and self.connected()
            answered = await self.answers()
            self._probe = (time.monotonic(), answered)
            if answered and self.connected():
                self._failing_since = None
            return answered and self.connected()

    async def refuse_if_known_down(self) -> None:
        """Raise :class:`KafkaUnavailableError` if Kafka failed lately and still does not answer."""
        if self._failing_since is not None and not await self.ready():
            raise KafkaUnavailableError(f"Kafka at {self.kafka.bootstrap_servers} is unreachable")

    def note_outcomes(self, results: list[NurtureError | None]) -> None:
        """Arm the fuse when a publish met an unreachable Kafka, disarm it on success."""
        down = any(r is not None and r.retriable for r in results)
        if down and self._failing_since is None:
            self._failing_since = time.monotonic()
            self._probe = None
        elif not down and any(r is None for r in results):
            self._failing_since = None
