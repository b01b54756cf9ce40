"""Profile upserts (``PUT /v1/candidates/{id}/profile``) and erasure requests (``DELETE``).

Both go to the compacted ``candidate.profile`` topic keyed by candidate id, validated by the
contract's pydantic models (profiles hold PII and are rare next to activity events, so they get
the full check). A profile's contact is sealed with the candidate's data key
(:mod:`producers.pii`); a new key is published to ``candidate.keys`` and acknowledged before the
profile. An erasure request replaces the profile under the same key (once compacted, Kafka keeps
the marker; the stream processors act on it), then the candidate's data keys are tombstoned, so
no sealed contact of the candidate can be read again (docs/privacy.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from producers.gateway.auth import check_source
from producers.gateway.errors import InvalidRecordError, KafkaDownError, KafkaRefusedError
from producers.gateway.ingest import IngestParts
from producers.gateway.publisher import OutgoingRecord
from producers.key_shredding import shred_keys
from producers.pii import ProfileSealer
from producers.records import Encoded
from schemas.errors import KafkaUnavailableError, NurtureError, ValidationError
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Deletes a candidate's data keys; returns how many (see :func:`kafka_shredder`).
Shredder = Callable[[str], Awaitable[int]]


def kafka_shredder(kafka: KafkaSettings, *, timeout_s: float) -> Shredder:
    """Tombstones a candidate's keys with :func:`producers.key_shredding.shred_keys`, off-loop."""

    async def shred(candidate_id: str) -> int:
        return await asyncio.to_thread(shred_keys, kafka, candidate_id, timeout_s=timeout_s)

    return shred


@dataclass(frozen=True)
class DataKeys:
    """The candidates' data keys as profiles meet them: ``sealer`` seals a profile's contact
    (publishing a new key first), ``shred`` deletes a candidate's keys on erasure."""

    sealer: ProfileSealer
    shred: Shredder


class ProfileIngest:
    """Validates and publishes single profile-topic records; raises GatewayErrors otherwise."""

    def __init__(
        self,
        parts: IngestParts,
        keys: DataKeys,
        *,
        topic: str,
        keys_topic: str,
        retry_after_s: int,
    ) -> None:
        self.encoder = parts.encoder
        self.publisher = parts.publisher
        self.metrics = parts.metrics
        self.topic = topic
        self.keys_topic = keys_topic
        self.sealer = keys.sealer
        self.shred = keys.shred
        self.retry_after_s = retry_after_s
        self._now = parts.now

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
        sealed = self._encode(lambda data: self.sealer.seal(self.encoder, data), profile)
        if sealed.key_record is not None:  # the key must be in Kafka before its ciphertext
            await self._publish(sealed.key_record, self.keys_topic)
            self.sealer.remember(sealed.key)
        await self._publish(sealed.profile, self.topic)
        return _accepted(candidate_id, sealed.profile)

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
        await self._publish(record, self.topic)
        self.sealer.forget(candidate_id)
        try:
            deleted = await self.shred(candidate_id)
        except NurtureError as exc:
            # The request is in; the keys are not yet gone: the client must DELETE again.
            raise KafkaDownError(
                f"the erasure request was published but the candidate's keys could not be "
                f"deleted ({type(exc).__name__}); send the DELETE again",
                retry_after_s=self.retry_after_s,
            ) from exc
        log.info("erasure %s: %d data key(s) deleted", record.record_id, deleted)
        return _accepted(candidate_id, record)

    def _encode(self, encode: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
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

    async def _publish(self, record: Encoded, topic: str) -> None:
        outgoing = OutgoingRecord(topic, record.key, record.value, record.headers, record.record_id)
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
