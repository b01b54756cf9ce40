"""Errors of the producer SDK, refining :mod:`schemas.errors` with the record's context.

Both derive from the contract's classes, so callers may catch the general ones:
:class:`PublishTimeoutError` is a :class:`~schemas.errors.KafkaUnavailableError` (retriable),
:class:`DeliveryRejectedError` a plain non-retriable :class:`~schemas.errors.NurtureError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.errors import KafkaUnavailableError, NurtureError

if TYPE_CHECKING:
    from producers.bulk import BulkResult


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
