"""Why a send failed, and whether trying again later may succeed.

Senders raise these; the delivery loop routes on the ``retriable`` class attribute (never on
messages). ``reason`` is a short, bounded label that goes into the outcome record and metrics;
``detail`` is technical context (a status code), never personal data.
"""

from __future__ import annotations

from schemas.errors import NurtureError


class DeliveryError(NurtureError):
    """Raised by a sender when an action could not be delivered."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class RetriableDeliveryError(DeliveryError):
    """Raised for a failure that may pass later: a timeout, HTTP 5xx or 429, an SMTP 4xx.

    ``retry_after_s`` is the peer's own hint (HTTP ``Retry-After``), or None.
    """

    retriable = True

    def __init__(
        self, reason: str, detail: str | None = None, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason, detail)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(DeliveryError):
    """Raised for a failure that will not pass: HTTP 4xx, SMTP 5xx, a template error."""


class EndpointGoneError(PermanentDeliveryError):
    """Raised when a webhook answers HTTP 410: the endpoint is switched off for good."""

    def __init__(self, endpoint: str) -> None:
        super().__init__("endpoint_gone", f"endpoint {endpoint} answered 410")
        self.endpoint = endpoint


class OutcomeUnknownError(DeliveryError):
    """Raised when a send may or may not have reached the peer (e-mail cut off after DATA).

    The loop records ``failed/unknown`` and does not send again: never two e-mails.
    """
