"""What sending returns and raises: a :class:`Delivery` per record (``send``), a
:class:`BulkResult` per batch (``send_many``), and the SDK's two errors.

The errors refine :mod:`schemas.errors` with the record's context, so callers may catch the
general ones: :class:`PublishTimeoutError` is a :class:`~schemas.errors.KafkaUnavailableError`
(retriable), :class:`DeliveryRejectedError` a plain non-retriable
:class:`~schemas.errors.NurtureError`. kafka-python reports failures as its own exception
classes; :func:`translate` maps them onto these using their ``retriable`` attribute, never their
messages.

One module because the three refer to each other: a Delivery raises the errors, an error raised
mid-batch carries the BulkResult of the records sent before it, and a BulkResult holds
Deliveries (as three modules they imported each other in a cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kafka.errors import IllegalStateError, KafkaError

from schemas.errors import KafkaUnavailableError, NurtureError


class PublishTimeoutError(KafkaUnavailableError):
    """Raised when Kafka could not be reached or did not acknowledge a record in time.

    Retriable: the record was not (or not provably) written; sending it again with the same
    ``event_id`` is safe, consumers deduplicate on it.
    """

    #: Set when raised by ``send_many`` mid-batch: the records sent before it (see BulkResult).
    partial: BulkResult | None = None

    def __init__(self, topic: str, detail: str, *, event_id: str | None = None) -> None:
        self.topic = topic
        self.event_id = event_id
        where = f" (event {event_id})" if event_id else ""
        super().__init__(f"Kafka unavailable for {topic}{where}: {detail}")


class DeliveryRejectedError(NurtureError):
    """Raised when Kafka refused a record for good: too large, not authorised, no such topic.

    Not retriable: sending the same record again fails the same way.
    """

    #: Set when raised by ``send_many`` mid-batch: the records sent before it (see BulkResult).
    partial: BulkResult | None = None

    def __init__(self, topic: str, detail: str, *, event_id: str | None = None) -> None:
        self.topic = topic
        self.event_id = event_id
        where = f" (event {event_id})" if event_id else ""
        super().__init__(f"Kafka refused a record for {topic}{where}: {detail}")


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
    :class:`RecordMetadata`; it raises :class:`PublishTimeoutError` (retriable)
    when the record failed to reach Kafka or ``timeout`` seconds passed first (default: the
    producer's delivery deadline, so it never blocks forever), and
    :class:`DeliveryRejectedError` when Kafka refused the record.
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


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input the SDK refused before sending: its position and the field at fault."""

    #: 0-based position of the record in the input.
    index: int
    field: str
    reason: str
    event_id: str | None = None

    def __str__(self) -> str:
        where = f" (event {self.event_id})" if self.event_id else ""
        return f"#{self.index} {self.field}: {self.reason}{where}"


@dataclass(frozen=True, slots=True)
class BulkResult:
    """Counts and details of a bulk send.

    ``deliveries`` holds one :class:`Delivery` per accepted record, in input order; after
    ``send_many(..., wait=True)`` every one of them is acknowledged. When a send failed
    mid-batch, the error's ``partial`` is a BulkResult of the records sent before it (wait on
    their deliveries) and ``unsent`` counts the valid records not sent.
    """

    accepted: int
    rejected: tuple[Rejection, ...]
    deliveries: tuple[Delivery, ...]
    unsent: int = 0

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected
