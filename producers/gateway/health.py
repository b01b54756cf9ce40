"""Is Kafka reachable? The readiness probe and the fast-fail fuse shared by the publishers."""

from __future__ import annotations

import asyncio
import time

from schemas.errors import KafkaUnavailableError, NurtureError
from schemas.settings import KafkaSettings


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

    def connected(self) -> bool:
        """True once the producer is built and connected (subclasses)."""
        raise NotImplementedError

    async def ready(self) -> bool:
        """True when Kafka answers metadata (probed at most once a second, off the loop)."""
        async with self._probe_lock:
            now = time.monotonic()
            if self._probe is not None and now - self._probe[0] < 1.0:
                return self._probe[1] and self.connected()
            loop = asyncio.get_running_loop()
            answered = await loop.run_in_executor(
                None, _answers_metadata, self.kafka, self.probe_timeout_s
            )
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


def _answers_metadata(kafka: KafkaSettings, timeout_s: float) -> bool:
    """One metadata round trip with a throw-away client: the honest readiness answer."""
    from kafka import KafkaConsumer  # noqa: PLC0415 - only on the (cached) probe path
    from kafka.errors import KafkaError  # noqa: PLC0415

    timeout_ms = int(timeout_s * 1000)
    try:
        consumer = KafkaConsumer(
            **kafka.kafka_python_config(),
            request_timeout_ms=timeout_ms + 1000,
            bootstrap_timeout_ms=timeout_ms,
            enable_auto_commit=False,
        )
    except (KafkaError, OSError):
        return False
    try:
        consumer.topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        consumer.close()
