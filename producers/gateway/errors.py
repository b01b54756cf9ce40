"""Why the gateway refuses a whole request, each error with its HTTP status.

Every class derives from :class:`GatewayError` (a :class:`~schemas.errors.NurtureError`); the app
turns them into a JSON body ``{"error": code, "detail": ..., ...}`` with the class's ``status``.
Per-event problems are not errors of this kind: they are listed in the response (see
:mod:`producers.gateway.models`) while the other events of the batch go through.
"""

from __future__ import annotations

from typing import Any

from schemas.errors import NurtureError


class GatewayError(NurtureError):
    """Base of the request-level refusals; ``status`` is the HTTP status, ``code`` the reason."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str, **extra: Any) -> None:
        self.detail = detail
        #: Extra machine-readable fields of the body (e.g. the exceeded ``limit``).
        self.extra = extra
        super().__init__(detail)

    def headers(self) -> dict[str, str]:
        """HTTP headers to send with the refusal."""
        return {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


class MalformedRequestError(GatewayError):
    """Raised when the body is not JSON, or not an event object / ``{"events": [...]}``."""

    status = 400
    code = "malformed_request"


class UnauthenticatedError(GatewayError):
    """Raised when the ``Authorization: Bearer`` key is missing or unknown (401)."""

    status = 401
    code = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="nurture-gateway"'}


class ForbiddenSourceError(GatewayError):
    """Raised when a record claims a ``source`` other than the API key's (403)."""

    status = 403
    code = "forbidden_source"


class PayloadTooLargeError(GatewayError):
    """Raised when a request passes a size limit (413); ``limit`` names it."""

    status = 413
    code = "payload_too_large"

    def __init__(self, detail: str, *, limit: str, maximum: int) -> None:
        super().__init__(detail, limit=limit, maximum=maximum)


class UnsupportedMediaTypeError(GatewayError):
    """Raised when the Content-Type is not one the endpoint reads (415)."""

    status = 415
    code = "unsupported_media_type"


class InvalidRecordError(GatewayError):
    """Raised when a single record (profile) breaks the contract (422); lists the fields."""

    status = 422
    code = "invalid"


class RetryLaterError(GatewayError):
    """Base of the refusals a client should retry after ``retry_after_s`` (``Retry-After``)."""

    retriable = True

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class RateLimitedError(RetryLaterError):
    """Raised when the API key spent its token bucket (429); retriable after ``retry_after_s``."""

    status = 429
    code = "rate_limited"


class KafkaDownError(RetryLaterError):
    """Raised when Kafka is unreachable before anything was published (503), retriable."""

    status = 503
    code = "kafka_unavailable"


class KafkaRefusedError(GatewayError):
    """Raised when Kafka refused a record for good (500): a broker-side misconfiguration."""

    status = 500
    code = "kafka_refused"
