"""From parsed request items to per-event results: validate, de-duplicate, publish, report.

The overall status of a ``POST /v1/events`` answer:

* **503** (+ Retry-After) when at least one event is ``unavailable`` (Kafka did not acknowledge
  it): retry those; the results say exactly which others were accepted, so a retry of the whole
  batch is safe (accepted ids come back as ``duplicate``);
* **500** when Kafka refused an event for good (``failed``; a broker-side misconfiguration);
* **202** when at least one event was accepted or is a duplicate (rejected ones are listed);
* **422** when every event was rejected.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from producers.gateway.auth import check_source
from producers.gateway.cloud_events import Rejection, attribute_of, from_binary, from_structured
from producers.gateway.dedup import AcceptedIds
from producers.gateway.limits import BodyKind
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.publisher import AckTimeoutError, OutgoingRecord, Publisher
from producers.records import Encoded, RecordEncoder
from schemas.errors import KafkaUnavailableError, NurtureError, ValidationError

log = logging.getLogger(__name__)

#: Rounds of "wait for another request publishing the same id, then publish it ourselves".
_MAX_ROUNDS = 3
_REASON_CHARS = 300
#: The rejected counter's reason (producers/gateway/metrics.py) of each status not published.
_REJECT_REASON = {"rejected": "invalid", "unavailable": "unavailable", "failed": "failed"}


def normalize(
    items: Sequence[Any], kind: BodyKind, source: str, ce_headers: dict[str, str], content_type: str
) -> list[dict[str, Any] | Rejection]:
    """Envelopes (or early rejections) of the request's items, with ``source`` checked.

    Raises :class:`~producers.gateway.errors.ForbiddenSourceError` (403) when any item claims
    a source other than the API key's: the whole request is refused.
    """
    prepared: list[dict[str, Any] | Rejection] = []
    for index, item in enumerate(items):
        if kind in ("ce-structured", "ce-batch"):
            event = from_structured(item)
        elif kind == "ce-binary":
            event = from_binary(ce_headers, item, content_type)
        else:
            event = (
                item if isinstance(item, dict) else Rejection("(event)", "must be a JSON object")
            )
        if isinstance(event, dict):
            claimed = event.get("source")
            check_source(source, claimed, where=f"event #{index}")
            if claimed is None:
                event = {**event, "source": source}
        prepared.append(event)
    return prepared


@dataclass
class _Batch:
    """Working state of one request: per-event results filled in step by step."""

    results: list[dict[str, Any]]
    encoded: dict[int, Encoded] = field(default_factory=dict)
    types: list[object] = field(default_factory=list)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IngestParts:
    """What the gateway's ingests (events here, profiles in :mod:`.profiles`) share: the
    contract's encoder, the Kafka publisher, the metrics and the clock (a test seam)."""

    encoder: RecordEncoder
    publisher: Publisher
    metrics: GatewayMetrics
    now: Callable[[], datetime] = _utc_now


class EventIngest:
    """Validates, de-duplicates and publishes the events of one request after another."""

    def __init__(
        self,
        parts: IngestParts,
        dedup: AcceptedIds,
        topic: str,
        *,
        ack_timeout_s: float,
        on_accepted: Callable[[list[str]], None] | None = None,
    ) -> None:
        #: Told the ids Kafka acknowledged (to share them with other gateways, see .shared_ids).
        self.on_accepted = on_accepted
        self.encoder = parts.encoder
        self.publisher = parts.publisher
        self.dedup = dedup
        self.metrics = parts.metrics
        self.topic = topic
        self.ack_timeout_s = ack_timeout_s
        self._now = parts.now

    async def ingest(
        self, events: list[dict[str, Any] | Rejection], source: str, kind: BodyKind
    ) -> tuple[int, dict[str, Any]]:
        """The HTTP status and body (:class:`~producers.gateway.models.IngestResponse`)."""
        batch = self._validate(events, kind)
        self.metrics.count(self.metrics.received, source, batch.types)
        await self._publish(batch)
        return self._answer(batch, source)

    def _validate(self, events: list[dict[str, Any] | Rejection], kind: BodyKind) -> _Batch:
        received_at = self._now()
        batch = _Batch(results=[])
        for index, event in enumerate(events):
            if isinstance(event, Rejection):
                batch.types.append(None)
                batch.results.append(_rejected(index, event.event_id, event.field, event.reason))
                continue
            batch.types.append(event.get("type"))
            try:
                record = self.encoder.event({**event, "received_at": received_at})
            except ValidationError as exc:
                where = attribute_of(exc.field) if kind.startswith("ce-") else exc.field
                batch.results.append(_rejected(index, _id_of(event), where, exc.reason))
                continue
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                # The contract's validation should turn every bad input into a ValidationError;
                # this is a gap to fix there, not a reason to answer 500.
                log.warning("event #%d: unexpected %s from validation", index, type(exc).__name__)
                batch.results.append(_rejected(index, _id_of(event), "(event)", "invalid event"))
                continue
            batch.encoded[index] = record
            batch.results.append({"index": index, "event_id": record.record_id, "status": None})
        return batch

    async def _publish(self, batch: _Batch) -> None:
        first_of: dict[str, int] = {}
        copies: list[tuple[int, int]] = []
        todo: list[int] = []
        for index, record in batch.encoded.items():
            earlier = first_of.setdefault(record.record_id, index)
            if earlier != index:
                copies.append((index, earlier))
            else:
                todo.append(index)
        deadline = time.monotonic() + self.ack_timeout_s
        for _ in range(_MAX_ROUNDS):
            if not todo:
                break
            todo = await self._round(batch, todo, deadline)
        for index in todo:
            _set(batch, index, "unavailable", "another request is still publishing this event_id")
        for index, earlier in copies:
            status = batch.results[earlier]["status"]
            _set(
                batch,
                index,
                "duplicate" if status == "accepted" else status,
                batch.results[earlier].get("detail"),
            )

    async def _round(self, batch: _Batch, todo: list[int], deadline: float) -> list[int]:
        """Publish what is new, wait for ids in flight elsewhere; returns ids to try again."""
        send: list[int] = []
        waits: list[tuple[int, asyncio.Future[bool]]] = []
        for index in todo:
            event_id = batch.encoded[index].record_id
            pending = self.dedup.pending(event_id)
            if self.dedup.is_accepted(event_id):
                _set(batch, index, "duplicate")
            elif pending is not None:
                waits.append((index, pending))
            else:
                self.dedup.reserve(event_id)
                send.append(index)
        if send:
            await self._send(batch, send)
        again: list[int] = []
        for index, pending in waits:
            try:
                timeout = max(0.0, deadline - time.monotonic())
                accepted = await asyncio.wait_for(asyncio.shield(pending), timeout)
            except TimeoutError:
                accepted = None
            if accepted:
                _set(batch, index, "duplicate")
            elif accepted is None:
                _set(
                    batch,
                    index,
                    "unavailable",
                    "an earlier request with this event_id is still waiting for Kafka",
                )
            else:
                again.append(index)
        return again

    async def _send(self, batch: _Batch, send: list[int]) -> None:
        records = [_outgoing(self.topic, batch.encoded[index]) for index in send]
        ids = [record.record_id for record in records]

        def late(position: int, error: NurtureError | None) -> None:
            self.dedup.settle(ids[position], error is None)
            if error is None and self.on_accepted is not None:
                self.on_accepted([ids[position]])

        try:
            outcomes: list[NurtureError | None] = await self.publisher.publish(records, late)
        except KafkaUnavailableError as exc:
            outcomes = [exc] * len(records)
        for index, event_id, outcome in zip(send, ids, outcomes, strict=True):
            if outcome is None:
                _set(batch, index, "accepted")
            else:
                status = "unavailable" if outcome.retriable else "failed"
                _set(batch, index, status, _short(str(outcome)))
            if not isinstance(outcome, AckTimeoutError):  # those settle later, via late()
                self.dedup.settle(event_id, outcome is None)
        accepted = [i for i, outcome in zip(ids, outcomes, strict=True) if outcome is None]
        if accepted and self.on_accepted is not None:
            self.on_accepted(accepted)

    def _answer(self, batch: _Batch, source: str) -> tuple[int, dict[str, Any]]:
        tally = {"accepted": 0, "duplicate": 0, "rejected": 0, "unavailable": 0, "failed": 0}
        for result in batch.results:
            tally[result["status"]] += 1
        accepted_types = [
            batch.types[r["index"]] for r in batch.results if r["status"] == "accepted"
        ]
        metrics = self.metrics
        metrics.count(metrics.accepted, source, accepted_types)
        if tally["rejected"] or tally["unavailable"] or tally["failed"]:
            metrics.count_rejected(
                source,
                (
                    (batch.types[r["index"]], _REJECT_REASON[r["status"]])
                    for r in batch.results
                    if r["status"] in _REJECT_REASON
                ),
            )
        if tally["duplicate"]:
            metrics.duplicates.labels(source).inc(tally["duplicate"])
        metrics.dedup_ids.set(len(self.dedup))
        if tally["rejected"]:
            rejected = [r["event_id"] for r in batch.results if r["status"] == "rejected"]
            log.info("rejected %d event(s) from %s: ids %s", len(rejected), source, rejected[:20])
        if tally["unavailable"]:
            status_code = 503
        elif tally["failed"]:
            status_code = 500
        elif tally["accepted"] or tally["duplicate"]:
            status_code = 202
        else:
            status_code = 422
        body = {
            "accepted": tally["accepted"],
            "duplicates": tally["duplicate"],
            "rejected": tally["rejected"],
            "unavailable": tally["unavailable"],
            "failed": tally["failed"],
            "results": batch.results,
        }
        return status_code, body


def _outgoing(topic: str, record: Encoded) -> OutgoingRecord:
    return OutgoingRecord(topic, record.key, record.value, record.headers, record.record_id)


def _set(batch: _Batch, index: int, status: str, detail: str | None = None) -> None:
    result = batch.results[index]
    result["status"] = status
    if detail is not None:
        result["detail"] = detail


def _rejected(index: int, event_id: str | None, field: str, reason: str) -> dict[str, Any]:
    error = {"field": _short(field), "reason": _short(reason)}
    return {"index": index, "event_id": event_id, "status": "rejected", "errors": [error]}


def _id_of(event: dict[str, Any]) -> str | None:
    event_id = event.get("event_id")
    return event_id if isinstance(event_id, str) and event_id else None


def _short(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


def new_request_id() -> str:
    return uuid.uuid4().hex
