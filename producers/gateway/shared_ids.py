"""Idempotent retries across gateway processes and restarts: accepted ids shared through Kafka.

Behind a load balancer a client's retry usually reaches another gateway process than its first
attempt, and a restarted process has forgotten its window. So every gateway publishes the event
ids each request got accepted, one small JSON record per request on ``nurture.gateway.accepted``
(key = the process's instance id), and every gateway reads that topic from ``window_s`` ago on
start-up and then follows it, feeding its :class:`~producers.gateway.dedup.AcceptedIds`.
A retry of an id any gateway accepted within the window is then answered ``duplicate``.

What remains (documented in docs/gateway.md): an id accepted by one gateway is known to the
others once its record is read there, typically a few tens of milliseconds later; two gateways
that get the same id within that time (or while the first is still waiting for Kafka's ack)
both publish it, and the stream worker's de-duplication by ``event_id`` drops the second.

The record, versioned for later changes::

    {"v": 1, "gateway": "<instance id>", "accepted_at_ms": 1767225600000, "ids": ["e-1", ...]}
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError as AioKafkaError

from producers.gateway.dedup import AcceptedIds
from producers.gateway.publisher import OutgoingRecord, Publisher
from schemas.errors import NurtureError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Most ids in one record (a request holds at most ``max_batch_events``; this bounds any one).
MAX_IDS_PER_RECORD = 1000


def encode_accepted(gateway_id: str, accepted_at_ms: int, ids: list[str]) -> bytes:
    """The value of one record of accepted ids."""
    record = {"v": FORMAT_VERSION, "gateway": gateway_id, "accepted_at_ms": accepted_at_ms}
    return orjson.dumps({**record, "ids": ids})


def decode_accepted(value: bytes | None) -> tuple[str, int, list[str]] | None:
    """``(gateway id, accepted at ms, ids)`` of a record; None for one this version cannot read."""
    try:
        record = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("v") != FORMAT_VERSION:
        return None
    gateway, ids = record.get("gateway"), record.get("ids")
    accepted_at = record.get("accepted_at_ms")
    if not isinstance(gateway, str) or type(accepted_at) is not int or not isinstance(ids, list):
        return None
    return gateway, accepted_at, [i for i in ids if isinstance(i, str) and i]


class SharedAcceptedIds:
    """Publishes this process's accepted ids and learns everyone's (see module docstring).

    ``loaded`` turns True once the ids of the window that were on the topic at start-up are read
    (``/readyz`` waits for it). Failures of the reader are logged and retried every
    ``retry_every_s``; meanwhile the gateway still works with what it knows. Without the topic
    (``nurture topics create`` not run since an upgrade) there is nothing to load or share: the
    gateway stays available with a per-process window, and says so every ``retry_every_s``.
    """

    def __init__(  # noqa: PLR0913 - wired once by gateway/app.py; keyword-only setting and test clock
        self,
        kafka: KafkaSettings,
        topic: str,
        dedup: AcceptedIds,
        publisher: Publisher,
        *,
        retry_every_s: float,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.dedup = dedup
        self.publisher = publisher
        self.retry_every_s = retry_every_s
        #: This process's name on the topic: its own records are skipped when read back.
        self.gateway_id = uuid.uuid4().hex[:16]
        self.loaded = False
        #: False until the topic is known to exist (nothing is shared before).
        self.sharing = False
        self._wall_clock = wall_clock
        clients.checked(clients.aiokafka_options, kafka)  # bad TLS: ConfigError now
        self._kafka = kafka
        self._reader: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    # --- sharing -------------------------------------------------------------------------

    def share(self, ids: list[str]) -> None:
        """Publish ``ids`` (just accepted) in the background; failures are logged, not raised."""
        if not self.sharing:
            return
        now_ms = int(self._wall_clock() * 1000)
        for start in range(0, len(ids), MAX_IDS_PER_RECORD):
            chunk = ids[start : start + MAX_IDS_PER_RECORD]
            value = encode_accepted(self.gateway_id, now_ms, chunk)
            record = OutgoingRecord(self.topic, self.gateway_id.encode(), value, [], chunk[0])
            task = asyncio.create_task(self._send(record), name="gateway-share-accepted-ids")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, record: OutgoingRecord) -> None:
        try:
            outcome = (await self.publisher.publish([record]))[0]
        except NurtureError as exc:
            outcome = exc
        if outcome is not None:
            # Other gateways will not know these ids: a retry there is published again, and the
            # stream worker's de-duplication drops it.
            log.warning("could not share accepted ids with other gateways: %s", outcome)

    # --- learning ------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin reading in the background (returns at once)."""
        self._reader = asyncio.create_task(self._read_forever(), name="gateway-accepted-ids")

    async def close(self) -> None:
        """Stop reading; wait briefly for shares still being sent."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=self.retry_every_s)

    async def _read_forever(self) -> None:
        while True:
            consumer: Any = None
            try:
                await self._require_topic()
                consumer = clients.aio_consumer(
                    self._kafka, self.topic, group_id=None, enable_auto_commit=False
                )
                await consumer.start()
                await self._follow(consumer)
            except (AioKafkaError, OSError, LookupError) as exc:
                log.warning("reading accepted ids: %s: %s; retrying", type(exc).__name__, exc)
            except Exception:
                log.exception("unexpected error reading accepted ids; retrying")
            finally:
                if consumer is not None:
                    await _stop_quietly(consumer)
            await asyncio.sleep(self.retry_every_s)

    async def _require_topic(self) -> None:
        """Raise LookupError when the topic does not exist (a subscribed consumer would wait for
        it for the whole request timeout, keeping the gateway unready)."""
        probe: Any = clients.aio_consumer(self._kafka, group_id=None, enable_auto_commit=False)
        try:
            await probe.start()
            exists = self.topic in await probe.topics()
        finally:
            await _stop_quietly(probe)
        if not exists:
            self.sharing, self.loaded = False, True  # nothing to load: do not block readiness
            raise LookupError(
                f"topic {self.topic} does not exist (run `nurture topics create`); until then "
                "retries are de-duplicated per gateway process only"
            )

    async def _follow(self, consumer: Any) -> None:
        """Read from the window's start to the end as of now (then ``loaded``), then follow."""
        tps = sorted(consumer.assignment())  # every partition (no consumer group)
        if not tps:
            raise LookupError(f"topic {self.topic} has no partitions assigned")
        self.sharing = True
        since_ms = int((self._wall_clock() - self.dedup.window_s) * 1000)
        starts = await consumer.offsets_for_times({tp: max(0, since_ms) for tp in tps})
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        for tp in tps:
            found = starts.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])
        behind = {tp for tp in tps if starts.get(tp) is not None}
        while True:
            if not self.loaded:
                behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
                if not behind:
                    self.loaded = True
                    log.info("accepted ids of the window read: %d remembered", len(self.dedup))
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            own = self.gateway_id.encode()
            for records in batches.values():
                for record in records:
                    if record.key != own:  # ours were remembered when accepted
                        self._learn(record.value)

    def _learn(self, value: bytes | None) -> None:
        decoded = decode_accepted(value)
        if decoded is None:
            log.warning("skipped an accepted-ids record this version cannot read")
            return
        gateway, accepted_at_ms, ids = decoded
        if gateway == self.gateway_id:
            return  # ours: already remembered when accepted
        age_s = self._wall_clock() - accepted_at_ms / 1000
        for event_id in ids:
            self.dedup.learn(event_id, age_s)


async def _stop_quietly(consumer: Any) -> None:
    try:
        await consumer.stop()
    except Exception as exc:  # stopping a half-started consumer may fail; nothing to keep
        log.debug("stopping the accepted-ids consumer: %s", type(exc).__name__)
