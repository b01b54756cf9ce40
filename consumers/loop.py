"""The delivery consumer's loop: poll actions and retries, hand them to the handler, commit.

One kafka-python consumer in the channel's group reads ``nurture.action`` and the retry topic;
offsets are committed by hand, per poll batch, only after every outcome of the batch is in the
store and acknowledged by Kafka (flush). A retry partition whose head record is not due yet is
paused and rewound to that record, and resumed when it is due: retries wait without blocking
fresh actions. SIGTERM/SIGINT set ``stop``: the current batch finishes, is committed, and the
process exits.
"""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from consumers.handling import Handler
from consumers.retries import read_retry_headers
from schemas.codec import codec_for
from schemas.errors import ConfigError, SchemaError
from schemas.models import parse_nurture_action
from schemas.settings import KafkaSettings
from schemas.topics import ACTION

log = logging.getLogger(__name__)

_ACTION_CODEC = codec_for("nurture_action")


class DeliveryLoop:
    """Consumes ``action_topic`` and ``retry_topic`` for one channel until ``stop`` is set."""

    def __init__(
        self, kafka: KafkaSettings, group_id: str, handler: Handler, *, poll_timeout_ms: int
    ) -> None:
        self.handler = handler
        self.action_topic = kafka.topic(ACTION)
        self.retry_topic = handler.publisher.retry_topic
        self._poll_timeout_ms = poll_timeout_ms
        self._paused_until: dict[TopicPartition, float] = {}
        self.consumer = KafkaConsumer(
            **kafka.kafka_python_config(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=100,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        for topic in (self.action_topic, self.retry_topic):
            # Also loads the topics' metadata before the first join, so the group assignment
            # does not start empty and wait for the next metadata refresh.
            if not self.consumer.partitions_for_topic(topic):
                self.consumer.close()
                raise ConfigError(f"topic {topic} does not exist (nurture topics create)")
        self.consumer.subscribe([self.action_topic, self.retry_topic])

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; then commit what is done and return."""
        while not stop.is_set():
            self._resume_due()
            batches = self.consumer.poll(timeout_ms=self._poll_timeout_ms)
            self._report_lag()
            if not batches:
                continue
            self.handler.profiles.catch_up()
            self.handler.done_elsewhere.catch_up()
            offsets: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, records in batches.items():
                done = self._handle_partition(tp, records, stop)
                if done is not None:
                    offsets[tp] = OffsetAndMetadata(done + 1, "", -1)
            self.handler.publisher.flush()
            self.handler.flushed()
            if offsets:
                self.consumer.commit(offsets)
                self.handler.metrics.committed()

    def _report_lag(self) -> None:
        """Set the lag gauge of each assigned partition whose high watermark is known."""
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                position = self.consumer.position(tp)
                self.handler.metrics.lag(tp.topic, tp.partition, max(0, highwater - position))

    def _handle_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord], stop: threading.Event
    ) -> int | None:
        """Handle records in order; the offset of the last one handled, or None."""
        last: int | None = None
        for record in records:
            if stop.is_set():
                break
            if tp.topic == self.retry_topic and not self._due(tp, record):
                break
            self._handle_record(record)
            last = record.offset
        return last

    def _due(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        info = read_retry_headers(record.headers or [])
        if info is None:
            return True
        wait_s = info.not_before_ms / 1000 - time.time()
        if wait_s <= 0:
            return True
        self.consumer.pause(tp)
        self.consumer.seek(tp, record.offset)
        self._paused_until[tp] = time.monotonic() + wait_s
        return False

    def _resume_due(self) -> None:
        now = time.monotonic()
        due = [tp for tp, until in self._paused_until.items() if until <= now]
        for tp in due:
            del self._paused_until[tp]
        assigned = self.consumer.assignment()
        resumable = [tp for tp in due if tp in assigned]
        if resumable:
            self.consumer.resume(*resumable)

    def _handle_record(self, record: ConsumerRecord) -> None:
        where = f"{record.topic}[{record.partition}] offset={record.offset}"
        try:
            action = parse_nurture_action(_ACTION_CODEC.decode(record.value))
        except SchemaError as exc:
            log.error("%s: not a valid action, dead-lettered: %s", where, exc)
            headers = [("nurture-reason", b"schema_error"), ("nurture-origin", where.encode())]
            self.handler.publisher.dead_letter(record.key, record.value or b"", headers)
            return
        if action.channel != self.handler.channel or action.replay:
            return
        retry = (
            read_retry_headers(record.headers or []) if record.topic == self.retry_topic else None
        )
        self.handler.handle(action, record.value, retry)

    def close(self) -> None:
        self.consumer.close(autocommit=False)
