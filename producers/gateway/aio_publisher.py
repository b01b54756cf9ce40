"""The gateway's publisher on aiokafka: the event loop's own Kafka client, no thread in between.

Same contract as :class:`~producers.gateway.publisher.KafkaPublisher` (acks=all, idempotence,
one producer per process, 503 until Kafka answers) and the same batching, compression and
timeout settings (:class:`~producers.settings.ProducerSettings`). Why a second client: measured on
the 2-core machine, kafka-python spends about 35 µs of CPU per record in ``send`` plus its sender
thread, and that thread competes with the event loop for the GIL; aiokafka appends to a batch in
about 17 µs on the loop itself (its record builder is compiled) and acks arrive as asyncio futures.
aiokafka is already a dependency (faust's client). Select it with
``NURTURE_GATEWAY_PRODUCER=aiokafka`` (the default, see :mod:`.settings`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError as AioKafkaError
from aiokafka.errors import KafkaTimeoutError, RequestTimedOutError
from aiokafka.protocol.metadata import MetadataRequest

from producers.delivery import DeliveryRejectedError, PublishTimeoutError
from producers.gateway.health import KafkaHealth
from producers.gateway.kafka_config import aiokafka_producer_config
from producers.gateway.publisher import AckTimeoutError, LateOutcome, OutgoingRecord
from producers.settings import ProducerSettings
from schemas.errors import KafkaUnavailableError, NurtureError
from schemas.kafka_seam import clients
from schemas.kafka_seam.partitioner import AioKafkaPartitioner
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

_TIMEOUTS = (KafkaTimeoutError, RequestTimedOutError)


def _translate(error: BaseException, record: OutgoingRecord) -> NurtureError:
    """The project error of an aiokafka failure, by its ``retriable`` attribute."""
    detail = f"{type(error).__name__}: {error}"
    gave_up = isinstance(error, _TIMEOUTS)  # aiokafka marks its own timeouts non-retriable
    if isinstance(error, AioKafkaError) and not error.retriable and not gave_up:
        return DeliveryRejectedError(record.topic, detail, event_id=record.record_id)
    return PublishTimeoutError(record.topic, detail, event_id=record.record_id)


class AioKafkaPublisher(KafkaHealth):
    """The live :class:`~producers.gateway.publisher.Publisher` on aiokafka."""

    def __init__(
        self,
        kafka: KafkaSettings,
        producer_settings: ProducerSettings,
        *,
        ack_timeout_s: float,
        probe_timeout_s: float,
        reconnect_every_s: float,
    ) -> None:
        super().__init__(kafka, probe_timeout_s)
        self.producer_settings = producer_settings
        self.ack_timeout_s = ack_timeout_s
        self.reconnect_every_s = reconnect_every_s
        self._producer: Any = None
        self._connector: asyncio.Task[None] | None = None
        self._partitioner = AioKafkaPartitioner()
        #: Built now, so bad settings raise ConfigError at start-up (see .kafka_config).
        self._config = aiokafka_producer_config(kafka, producer_settings, self._partitioner)

    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Begin connecting in the background (returns at once)."""
        self._connector = asyncio.create_task(self._connect_loop(), name="gateway-kafka-connect")

    async def _connect_loop(self) -> None:
        """Connect until a broker answers; never dies quietly (the gateway would 503 forever)."""
        while self._producer is None:
            producer: Any = None
            try:
                producer = clients.aio_producer(self.kafka, **self._config)
                await producer.start()
            except (AioKafkaError, OSError) as exc:
                log.warning("cannot connect to Kafka yet (%s); retrying", type(exc).__name__)
            except Exception:
                log.exception("unexpected error connecting to Kafka; retrying")
            else:
                self._producer = producer
                servers = self.kafka.bootstrap_servers
                log.info("gateway producer (aiokafka) connected to %s", servers)
                return
            await _stop_quietly(producer)
            await asyncio.sleep(self.reconnect_every_s)

    async def answers(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        client = producer.client
        node = client.get_random_node()
        if node is None:
            return False
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                request = MetadataRequest(list(self.topics), allow_auto_topic_creation=False)
                await client.send(node, request)
        except (AioKafkaError, OSError, TimeoutError) as exc:
            log.debug("readiness probe failed: %s", type(exc).__name__)
            return False
        return True

    async def publish(
        self, records: Sequence[OutgoingRecord], on_late: LateOutcome | None = None
    ) -> list[NurtureError | None]:
        producer = self._producer
        if producer is None:
            raise KafkaUnavailableError(f"not connected to Kafka at {self.kafka.bootstrap_servers}")
        await self.refuse_if_known_down()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout_s
        results: list[NurtureError | None] = [None] * len(records)
        acks: dict[asyncio.Future[Any], int] = {}
        sent = 0
        partitions: dict[str, list[int]] = {}
        partition_of = self._partitioner.partition_of
        try:
            async with asyncio.timeout_at(deadline):
                for record in records:
                    topic = record.topic
                    if topic not in partitions:
                        partitions[topic] = sorted(await producer.partitions_for(topic))
                    partition = partition_of(record.key, partitions[topic])
                    ack = await producer.send(
                        topic,
                        record.value,
                        key=record.key,
                        partition=partition,
                        headers=record.headers,
                    )
                    acks[ack] = sent
                    sent += 1
        except (AioKafkaError, TimeoutError) as exc:  # no metadata / no buffer space in time
            for rest in range(sent, len(records)):
                results[rest] = _translate(exc, records[rest])
        if acks:
            _, pending = await asyncio.wait(acks, timeout=max(0.0, deadline - loop.time()))
            for ack, index in acks.items():
                if ack in pending:
                    results[index] = AckTimeoutError(
                        records[index].topic,
                        f"no acknowledgement within {self.ack_timeout_s} s",
                        event_id=records[index].record_id,
                    )
                    if on_late is not None:
                        ack.add_done_callback(_late(on_late, index, records[index]))
                elif ack.exception() is not None:
                    results[index] = _translate(ack.exception(), records[index])  # type: ignore[arg-type]
        self.note_outcomes(results)
        return results

    async def close(self) -> None:
        """Stop connecting, flush what is in flight and release the producer."""
        if self._connector is not None:
            self._connector.cancel()
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


async def _stop_quietly(producer: Any) -> None:
    """Stop a producer that failed to start; a failure to stop must not end the connector."""
    if producer is None:
        return
    try:
        await producer.stop()
    except Exception:
        log.exception("stopping a producer that failed to connect")


def _late(on_late: LateOutcome, index: int, record: OutgoingRecord) -> Any:
    def settled(ack: asyncio.Future[Any]) -> None:
        error = None if ack.cancelled() else ack.exception()
        if ack.cancelled():
            on_late(
                index, PublishTimeoutError(record.topic, "cancelled", event_id=record.record_id)
            )
        else:
            on_late(index, None if error is None else _translate(error, record))

    return settled
