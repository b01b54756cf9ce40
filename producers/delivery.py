"""What ``send`` returns: a handle on one record's acknowledgement, with typed errors.

kafka-python reports failures as its own exception classes; :func:`translate` maps them onto the
project's hierarchy using their ``retriable`` attribute, never their messages.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kafka.errors import IllegalStateError, KafkaError

from producers.errors import DeliveryRejectedError, PublishTimeoutError
from schemas.errors import NurtureError


class RecordMetadata(NamedTuple):
    """Where an acknowledged record was written."""

    topic: str
    partition: int
    offset: int
    #: Broker or create timestamp, milliseconds since the epoch.
    timestamp_ms: int


def translate(error: BaseException, topic: str, event_id: str | None = None) -> NurtureError:
    """The project error for a kafka-python failure: retriable ones become timeouts."""
    if isinstance(error, NurtureError):
        return error
    detail = f"{type(error).__name__}: {error}"
    # IllegalStateError: kafka-python failed a pending record because its client was closed
    # forcefully (see producers.client); the record was not written and may be sent again.
    if isinstance(error, KafkaError) and (error.retriable or isinstance(error, IllegalStateError)):
        return PublishTimeoutError(topic, detail, event_id=event_id)
    return DeliveryRejectedError(topic, detail, event_id=event_id)


class Delivery:
    """The pending acknowledgement of one record sent by the SDK.

    ``get(timeout)`` blocks until Kafka acknowledged the record (``acks=all``) and returns its
    :class:`RecordMetadata`; it raises :class:`~producers.errors.PublishTimeoutError` (retriable)
    when the record failed to reach Kafka or ``timeout`` seconds passed first (default: the
    producer's delivery deadline, so it never blocks forever), and
    :class:`~producers.errors.DeliveryRejectedError` when Kafka refused the record.
    """

    __slots__ = ("_deadline_s", "_future", "client", "event_id", "topic")

    def __init__(
        self,
        future: Any,
        topic: str,
        event_id: str | None,
        deadline_s: float | None = None,
        client: Any = None,
    ) -> None:
        #: kafka-python's FutureRecordMetadata (for callers that want callbacks).
        self._future = future
        self.topic = topic
        #: The record's event_id (or request_id / candidate_id for other subjects).
        self.event_id = event_id
        self._deadline_s = deadline_s
        #: The kafka-python producer that sent it (the SDK replaces a wedged one).
        self.client = client

    @property
    def kafka_future(self) -> Any:
        """The underlying kafka-python ``FutureRecordMetadata``."""
        return self._future

    def done(self) -> bool:
        """True once the record was acknowledged or failed."""
        return bool(self._future.is_done)

    def get(self, timeout: float | None = None) -> RecordMetadata:
        """Wait for the acknowledgement; see the class docstring for the errors."""
        try:
            meta = self._future.get(timeout=self._deadline_s if timeout is None else timeout)
        except Exception as exc:
            raise translate(exc, self.topic, self.event_id) from exc
        return RecordMetadata(meta.topic, meta.partition, meta.offset, meta.timestamp)

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"Delivery({self.topic}, event {self.event_id}, {state})"
