"""Everything the delivery consumer writes to Kafka: outcomes, retries, dead letters.

One kafka-python producer with ``acks=all`` and idempotence. Nothing counts as recorded until
:meth:`Publisher.flush` returned: the loop flushes before it commits offsets.
"""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaError

from consumers.retries import ACTION_RETRY
from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTION_DLQ, DELIVERY

Headers = list[tuple[str, bytes]]


class Publisher:
    """Writes outcome, retry and dead-letter records keyed by candidate id."""

    def __init__(self, kafka: KafkaSettings, *, flush_timeout_s: float = 30.0) -> None:
        self.delivery_topic = kafka.topic(DELIVERY)
        self.retry_topic = kafka.topic(ACTION_RETRY)
        self.dlq_topic = kafka.topic(ACTION_DLQ)
        self._flush_timeout_s = flush_timeout_s
        self._producer = clients.producer(
            kafka,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        self._pending: list[Any] = []

    def outcome(self, candidate_id: str, encoded: bytes) -> None:
        self._send(self.delivery_topic, candidate_id.encode(), encoded, [])

    def retry(self, candidate_id: str, action: bytes, headers: Headers) -> None:
        self._send(self.retry_topic, candidate_id.encode(), action, headers)

    def dead_letter(self, key: bytes | None, action: bytes, headers: Headers) -> None:
        self._send(self.dlq_topic, key, action, headers)

    def _send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self._pending.append(self._producer.send(topic, key=key, value=value, headers=headers))

    def flush(self) -> None:
        """Wait until Kafka acknowledged everything sent so far (KafkaUnavailableError if not)."""
        pending, self._pending = self._pending, []
        try:
            self._producer.flush(timeout=self._flush_timeout_s)
            for future in pending:
                future.get(timeout=self._flush_timeout_s)
        except KafkaError as exc:
            raise KafkaUnavailableError(f"delivery records not acknowledged: {exc}") from exc

    def close(self) -> None:
        self._producer.close(timeout=self._flush_timeout_s)
