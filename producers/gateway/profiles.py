"""Profile upserts (``PUT /v1/candidates/{id}/profile``) and erasure requests (``DELETE``).

Both go to the compacted ``candidate.profile`` topic keyed by candidate id, validated by the
contract's pydantic models (profiles hold PII and are rare next to activity events, so they get
the full check). An erasure request replaces the profile under the same key: once compacted,
Kafka keeps the marker and not the personal data; the stream processors act on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from producers.gateway.auth import check_source
from producers.gateway.errors import InvalidRecordError, KafkaDownError, KafkaRefusedError
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.publisher import OutgoingRecord, Publisher
from producers.records import Encoded, RecordEncoder
from schemas.errors import KafkaUnavailableError, NurtureError, ValidationError


class ProfileIngest:
    """Validates and publishes single profile-topic records; raises GatewayErrors otherwise."""

    def __init__(
        self,
        encoder: RecordEncoder,
        publisher: Publisher,
        metrics: GatewayMetrics,
        topic: str,
        *,
        retry_after_s: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.encoder = encoder
        self.publisher = publisher
        self.metrics = metrics
        self.topic = topic
        self.retry_after_s = retry_after_s
        self._now = now

    async def upsert(self, candidate_id: str, body: Any, source: str) -> dict[str, Any]:
        """Publish the profile in ``body``; returns the :class:`RecordAccepted` body."""
        if not isinstance(body, dict):
            raise InvalidRecordError(
                "the body must be a JSON object (a candidate profile)",
                errors=[_error("(record)", "must be a JSON object")],
            )
        if body.get("candidate_id", candidate_id) != candidate_id:
            raise InvalidRecordError(
                "candidate_id in the body differs from the path",
                errors=[_error("candidate_id", "must equal the candidate id in the path")],
            )
        check_source(source, body.get("source"), where="profile")
        profile = {**body, "candidate_id": candidate_id, "source": source}
        if profile.get("updated_at") is None:
            profile["updated_at"] = self._now()
        record = self._encode(self.encoder.profile, profile)
        await self._publish(record)
        return _accepted(candidate_id, record)

    async def erase(self, candidate_id: str, source: str, reason: str | None) -> dict[str, Any]:
        """Publish an erasure request for ``candidate_id``; the :class:`RecordAccepted` body."""
        request: dict[str, Any] = {
            "candidate_id": candidate_id,
            "source": source,
            "requested_at": self._now(),
        }
        if reason is not None:
            request["reason"] = reason
        record = self._encode(self.encoder.erasure, request)
        await self._publish(record)
        return _accepted(candidate_id, record)

    def _encode(self, encode: Callable[[dict[str, Any]], Encoded], data: dict[str, Any]) -> Encoded:
        try:
            return encode(data)
        except ValidationError as exc:
            raise InvalidRecordError(
                f"the record breaks the contract at {exc.field}",
                errors=[_error(exc.field, exc.reason)],
            ) from None
        except (TypeError, ValueError, KeyError, AttributeError):
            raise InvalidRecordError(
                "the record breaks the contract", errors=[_error("(record)", "invalid record")]
            ) from None

    async def _publish(self, record: Encoded) -> None:
        outgoing = OutgoingRecord(
            self.topic, record.key, record.value, record.headers, record.record_id
        )
        try:
            [outcome] = await self.publisher.publish([outgoing])
        except KafkaUnavailableError as exc:
            outcome = exc
        if outcome is None:
            self.metrics.records.labels(record.subject).inc()
            return
        if outcome.retriable:
            raise KafkaDownError(_detail(outcome), retry_after_s=self.retry_after_s)
        raise KafkaRefusedError(_detail(outcome))


def _accepted(candidate_id: str, record: Encoded) -> dict[str, Any]:
    return {"candidate_id": candidate_id, "record": record.subject, "record_id": record.record_id}


def _error(field: str, reason: str) -> dict[str, str]:
    return {"field": field[:300], "reason": reason[:300]}


def _detail(error: NurtureError) -> str:
    return f"Kafka did not acknowledge the record: {type(error).__name__}"
