"""What a channel's sender must do; the delivery loop knows senders only by this protocol."""

from __future__ import annotations

from typing import Protocol

from schemas.models import CandidateProfile, NurtureAction


class Sender(Protocol):
    """Sends one action to the outside world.

    ``send`` returns a short technical detail for the outcome (e.g. ``"http 200"``) or raises a
    :class:`consumers.errors.DeliveryError`. ``resend_when_unknown`` says what to do with an
    action a crash left in ``sending``: True (the peer deduplicates by ``action_id``, e.g. the
    webhook ``Idempotency-Key``) sends it again; False records ``failed/unknown`` instead.
    """

    resend_when_unknown: bool

    def send(self, action: NurtureAction, profile: CandidateProfile, attempt: int) -> str: ...

    def close(self) -> None: ...
