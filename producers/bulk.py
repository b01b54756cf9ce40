"""The outcome of :meth:`NurtureProducer.send_many`: what was accepted, what was refused and why."""

from __future__ import annotations

from dataclasses import dataclass

from producers.delivery import Delivery


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
