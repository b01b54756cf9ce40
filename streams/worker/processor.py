"""What the agents do with a batch: decode, dead-letter, score per candidate, write, publish.

Everything here is synchronous on purpose: a batch is read, scored and written to the table
without an ``await`` in between, so the two agents (activity, profile) that share the candidate
rows can never interleave inside one row's read-modify-write. Output goes to faust's producer
buffer (``send_soon``); faust flushes the producer before it commits offsets (at-least-once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from schemas.codec import activity_codec, codec_for, default_codec
from schemas.errors import SchemaError, ValidationError
from streams.dlq import dead_letter
from streams.metrics import WorkerMetrics
from streams.scoring.config import ScoringModel
from streams.worker.engagement import ActivityItem, score_candidate
from streams.worker.event_context import clear_current, make_current
from streams.worker.profile import ERASURE_SUBJECT, PROFILE_SUBJECT, with_profile
from streams.worker.rows import dump_row, load_row

log = logging.getLogger(__name__)

Event = Any  # faust.EventT (faust is untyped)


class Outputs:
    """The faust table and topics a processor writes to."""

    def __init__(self, table: Any, engagement: Any, dlq: dict[str, Any], metrics: WorkerMetrics):
        self.table = table
        self.engagement = engagement
        #: Dead-letter topic per source topic (full, prefixed names).
        self.dlq = dlq
        self.metrics = metrics

    def dead_letter(self, event: Event, error: BaseException) -> None:
        """Publish the event's original record to its dead-letter topic and log it."""
        message = event.message
        letter = dead_letter(
            key=message.key,
            value=message.value,
            headers=message.headers,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=error,
        )
        topic = self.dlq[message.topic]
        topic.send_soon(key=letter.key, value=letter.value, headers=letter.headers)
        self.metrics.dead_letters.labels(topic.get_topic_name()).inc()
        log.warning(
            "%s[%d] offset=%d dead-lettered: %s: %s",
            message.topic,
            message.partition,
            message.offset,
            type(error).__name__,
            error,
        )


def check_key(key: bytes | None, candidate_id: str, record_id: str | None) -> None:
    """Refuse a record whose Kafka key is not its candidate id (its row would be misplaced)."""
    if key is None or key != candidate_id.encode():
        shown = "no key" if key is None else f"key {key[:80]!r}"
        raise ValidationError(
            "candidate_id",
            f"record has {shown} but candidate_id {candidate_id!r}; the key must be the "
            "candidate id (partitioning)",
            event_id=record_id,
        )


class ActivityProcessor:
    """Scores batches of ``candidate.activity`` events into the candidate rows."""

    def __init__(self, model: ScoringModel, outputs: Outputs) -> None:
        self.model = model
        self.out = outputs
        self._decode = activity_codec().decode
        self._encode_record = codec_for("engagement_record").encode

    def process(self, events: Sequence[Event]) -> None:
        """Process one batch (events of any partitions, each partition in offset order)."""
        metrics = self.out.metrics
        groups: dict[bytes, list[tuple[ActivityItem, Event]]] = {}
        for event in events:
            message = event.message
            try:
                record = self._decode(message.value)
                check_key(message.key, record["candidate_id"], record["event_id"])
            except SchemaError as exc:
                self.out.dead_letter(event, exc)
                metrics.events.labels("dead_lettered").inc()
                continue
            item = ActivityItem(record, message.partition, message.offset)
            groups.setdefault(message.key, []).append((item, event))
        table = self.out.table
        scored = duplicates = too_late = 0
        for key, group in groups.items():
            make_current(group[-1][1])
            candidate_id = group[0][0].record["candidate_id"]
            outcome = score_candidate(
                self.model, candidate_id, table.get(key), [i for i, _ in group]
            )
            for rejected in outcome.rejected:
                event = next(e for i, e in group if i is rejected.item)
                self.out.dead_letter(event, rejected.error)
                metrics.events.labels("dead_lettered").inc()
            if outcome.record is None:  # a new candidate whose every event was rejected
                continue
            table[key] = dump_row(outcome.row)
            self.out.engagement.send_soon(key=key, value=self._encode_record(outcome.record))
            metrics.engagement_records.inc()
            scored += outcome.scored
            duplicates += outcome.duplicates
            too_late += outcome.too_late
        clear_current()
        metrics.events.labels("scored").inc(scored)
        metrics.events.labels("duplicate").inc(duplicates)
        metrics.events.labels("too_late").inc(too_late)
        metrics.batch_events.observe(len(events))


class ProfileProcessor:
    """Keeps the profile part of the candidate rows from ``candidate.profile``."""

    def __init__(self, outputs: Outputs) -> None:
        self.out = outputs
        self._codec = default_codec()

    def process(self, events: Sequence[Event]) -> None:
        """Apply each profile or erasure record, in order, to its candidate's row."""
        table = self.out.table
        profiles = self.out.metrics.profiles
        for event in events:
            message = event.message
            try:
                decoded = self._codec.decode(message.value)
                if decoded.subject not in (PROFILE_SUBJECT, ERASURE_SUBJECT):
                    raise SchemaError(
                        f"{decoded.subject} v{decoded.version} record on the profile topic "
                        f"(expected {PROFILE_SUBJECT} or {ERASURE_SUBJECT})"
                    )
                candidate_id = decoded.record["candidate_id"]
                check_key(message.key, candidate_id, None)
            except SchemaError as exc:
                self.out.dead_letter(event, exc)
                profiles.labels("dead_lettered").inc()
                continue
            make_current(event)
            key = message.key
            if decoded.subject == ERASURE_SUBJECT:
                if table.get(key) is not None:
                    del table[key]
                # Tombstone: compaction then drops the candidate's engagement record too.
                self.out.engagement.send_soon(key=key, value=None)
                profiles.labels("erasure").inc()
            else:
                row = load_row(table.get(key))
                table[key] = dump_row(with_profile(row, decoded.record))
                profiles.labels("profile").inc()
        clear_current()
