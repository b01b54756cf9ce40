"""Publishing from the event loop: the SDK producer behind a small async adapter.

kafka-python is synchronous. One :class:`~producers.producer.NurtureProducer` serves the whole
process (acks=all, idempotence); its ``send`` runs on one dedicated thread, because it may block
(metadata, full buffer) and must never stall the event loop. Acknowledgements come back through
kafka-python future callbacks on the producer's sender thread, counted per request, and wake the
request with a single ``loop.call_soon_threadsafe`` once every record of it is settled.

Start-up never waits for Kafka: the producer is built on a background thread and rebuilt until a
broker answers; until then :meth:`KafkaPublisher.publish` raises
:class:`~schemas.errors.KafkaUnavailableError` before sending anything, so the gateway can answer
503 with nothing published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol

from producers.delivery import PublishTimeoutError, translate
from producers.gateway.health import KafkaHealth
from producers.producer import NurtureProducer
from producers.settings import ProducerSettings
from schemas.errors import KafkaUnavailableError, NurtureError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

#: ``(index, error or None)`` for a record settled after :meth:`Publisher.publish` returned.
LateOutcome = Callable[[int, NurtureError | None], None]


class AckTimeoutError(PublishTimeoutError):
    """A record still unacknowledged when the request stopped waiting; it may still land.

    The producer keeps retrying it until its own delivery timeout, and the publisher reports its
    final outcome through the ``on_late`` callback.
    """


class OutgoingRecord(NamedTuple):
    """One encoded record to publish."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    #: event_id / request_id / candidate_id, for errors and logs.
    record_id: str


class Publisher(Protocol):
    """What the routes need from Kafka (a fake in unit tests, :class:`KafkaPublisher` live)."""

    async def publish(
        self, records: Sequence[OutgoingRecord], on_late: LateOutcome | None = None
    ) -> list[NurtureError | None]:
        """Send ``records``; one entry per record: None when acknowledged, else the error.

        Waits at most the ack timeout. Records still unacknowledged then get a retriable
        :class:`PublishTimeoutError`, and ``on_late`` is called (on the event loop) once each
        of them is finally settled. Raises :class:`KafkaUnavailableError` when Kafka is known
        to be unreachable: then nothing was sent.
        """
        ...

    async def ready(self) -> bool:
        """True when Kafka answers a metadata request."""
        ...

    async def close(self) -> None: ...


class _Pending:
    """Marks a record not yet acknowledged nor failed."""


_PENDING = _Pending()


class _Acks:
    """Outcomes of one request's records, filled in by kafka-python callbacks (any thread)."""

    __slots__ = ("_lock", "_loop", "done", "on_late", "outcomes", "remaining", "returned")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        #: One entry per record: _PENDING until settled, then None (acked) or the error.
        self.outcomes: list[NurtureError | _Pending | None] = [_PENDING] * count
        self.remaining = count
        self.done: asyncio.Future[None] = loop.create_future()
        self.returned = False
        self.on_late: LateOutcome | None = None

    def settle(self, index: int, error: NurtureError | None) -> None:
        with self._lock:
            if self.outcomes[index] is not _PENDING:
                return
            self.outcomes[index] = error
            self.remaining -= 1
            last = self.remaining == 0
            late = self.returned
        if late:
            if self.on_late is not None:
                self._loop.call_soon_threadsafe(self.on_late, index, error)
        elif last:
            self._loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class KafkaPublisher(KafkaHealth):
    """The live :class:`Publisher` on the SDK's kafka-python producer, built in the background."""

    def __init__(  # noqa: PLR0913 - keyword-only timeouts and a test seam (producer_factory)
        self,
        kafka: KafkaSettings,
        producer_settings: ProducerSettings,
        *,
        ack_timeout_s: float,
        probe_timeout_s: float,
        reconnect_every_s: float,
        producer_factory: Callable[[], NurtureProducer] | None = None,
    ) -> None:
        super().__init__(kafka, probe_timeout_s)
        clients.checked(clients.kafka_python_options, kafka)  # bad TLS: ConfigError now
        self.ack_timeout_s = ack_timeout_s
        self.reconnect_every_s = reconnect_every_s
        self._factory = producer_factory or (lambda: NurtureProducer(kafka, producer_settings))
        self._producer: NurtureProducer | None = None
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-send")
        self._connector: asyncio.Task[None] | None = None
        self._closing = False

    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Begin connecting in the background (returns at once)."""
        self._connector = asyncio.create_task(self._connect_loop(), name="gateway-kafka-connect")

    async def _connect_loop(self) -> None:
        """Connect until a broker answers; never dies quietly (the gateway would 503 forever)."""
        loop = asyncio.get_running_loop()
        while self._producer is None:
            try:
                producer = await loop.run_in_executor(None, self._factory)
            except NurtureError as exc:  # unreachable (retriable) or refused (config): keep trying
                log.warning("cannot connect to Kafka yet (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self.reconnect_every_s)
                continue
            except Exception:
                log.exception("unexpected error connecting to Kafka; retrying")
                await asyncio.sleep(self.reconnect_every_s)
                continue
            if self._is_closing():
                await loop.run_in_executor(None, producer.close, 1.0)
                return
            self._producer = producer
            log.info("gateway producer connected to %s", self.kafka.bootstrap_servers)

    async def answers(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, producer.answers_metadata, self.probe_timeout_s)

    def _is_closing(self) -> bool:
        return self._closing

    async def publish(
        self, records: Sequence[OutgoingRecord], on_late: LateOutcome | None = None
    ) -> list[NurtureError | None]:
        producer = self._producer
        if producer is None:
            raise KafkaUnavailableError(f"not connected to Kafka at {self.kafka.bootstrap_servers}")
        await self.refuse_if_known_down()
        if not records:
            return []
        loop = asyncio.get_running_loop()
        acks = _Acks(loop, len(records))
        await loop.run_in_executor(self._sender, _send_all, producer, records, acks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(acks.done), self.ack_timeout_s)
        with acks._lock:
            acks.returned = True
            acks.on_late = on_late
            outcomes = list(acks.outcomes)
        results = [
            self._timeout(record) if isinstance(outcome, _Pending) else outcome
            for outcome, record in zip(outcomes, records, strict=True)
        ]
        self.note_outcomes(results)
        return results

    def _timeout(self, record: OutgoingRecord) -> NurtureError:
        return AckTimeoutError(
            record.topic,
            f"no acknowledgement within {self.ack_timeout_s} s",
            event_id=record.record_id,
        )

    async def close(self) -> None:
        """Stop connecting, flush what is in flight (bounded) and release the producer."""
        self._closing = True
        if self._connector is not None:
            self._connector.cancel()
        producer, self._producer = self._producer, None
        if producer is not None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, producer.close, self.ack_timeout_s)
            except NurtureError as exc:
                log.warning("closing the gateway producer: %s", type(exc).__name__)
        self._sender.shutdown(wait=False)


def _send_all(producer: NurtureProducer, records: Sequence[OutgoingRecord], acks: _Acks) -> None:
    """Send every record (on the sender thread); a failing ``send`` fails the rest unsent."""
    for index, record in enumerate(records):
        try:
            future = producer.send_encoded(record.topic, record.key, record.value, record.headers)
        except NurtureError as exc:
            for rest in range(index, len(records)):
                acks.settle(rest, exc)
            return
        future.add_callback(_acked, acks, index)
        future.add_errback(_failed, acks, index, record)


def _acked(acks: _Acks, index: int, _metadata: Any) -> None:
    acks.settle(index, None)


def _failed(acks: _Acks, index: int, record: OutgoingRecord, error: BaseException) -> None:
    acks.settle(index, translate(error, record.topic, record.record_id))
