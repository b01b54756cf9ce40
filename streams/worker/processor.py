"""What the agents do with a batch: decode, dead-letter, score per candidate, write, publish.

``process`` is synchronous on purpose: a batch is read, scored and written to the local store
without an ``await`` in between, so the two agents (activity, profile) that share the candidate
rows never interleave inside one row's read-modify-write. The changelog, engagement and
dead-letter records go to an :class:`~streams.worker.outbox.Outbox` that the agent publishes
before it takes the next batch; faust flushes the producer before it commits offsets, so an
offset is committed only after everything its event caused is in Kafka (at-least-once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.codec import activity_codec, codec_for, default_codec
from schemas.errors import SchemaError, ValidationError
from streams.dlq import dead_letter
from streams.metrics import WorkerMetrics
from streams.scoring.config import ScoringModel
from streams.worker.campaigns import CampaignOutput
from streams.worker.engagement import ActivityItem, score_candidate
from streams.worker.event_context import clear_current
from streams.worker.outbox import Outbox
from streams.worker.profile import ERASURE_SUBJECT, PROFILE_SUBJECT, with_profile
from streams.worker.row_store import RowStore
from streams.worker.rows import dump_row, load_row

log = logging.getLogger(__name__)

Event = Any  # faust.EventT (faust is untyped)


@dataclass
class Outputs:
    """Where a processor's results go: the table's store, and the output topics (full names)."""

    #: The faust table; rows are written to ``table.data`` (the local store) directly.
    table: Any
    changelog: str
    engagement: str
    #: Dead-letter topic per source topic.
    dlq: Mapping[str, str]
    #: Partition count of every output topic.
    partitions: Mapping[str, int]
    metrics: WorkerMetrics

    def outbox(self) -> Outbox:
        return Outbox(self.partitions)

    def __post_init__(self) -> None:
        self.rows = RowStore(self.table)

    def write_row(self, outbox: Outbox, event: Event, key: bytes, row: bytes | None) -> None:
        """Store a row (None deletes it), queue its changelog record; on ``event``'s partition."""
        self.rows.put(event, key, row)
        outbox.add(self.changelog, key, row, partition=event.message.partition)

    def dead_letter(self, outbox: Outbox, event: Event, error: BaseException) -> None:
        """Queue the event's original record for its dead-letter topic and log why."""
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
        outbox.add(topic, letter.key, letter.value, headers=letter.headers)
        self.metrics.dead_letters.labels(topic).inc()
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

    def __init__(
        self, model: ScoringModel, outputs: Outputs, campaigns: CampaignOutput | None = None
    ) -> None:
        self.model = model
        self.out = outputs
        #: The campaign engine and its output (None: scoring only).
        self.campaigns = campaigns
        self._engine = None if campaigns is None else campaigns.engine
        self._decode = activity_codec().decode
        self._encode_record = codec_for("engagement_record").encode

    def process(self, events: Sequence[Event]) -> Outbox:
        """Process one batch (events of any partitions, each partition in offset order)."""
        out, metrics = self.out, self.out.metrics
        outbox = out.outbox()
        groups: dict[bytes, list[tuple[ActivityItem, Event]]] = {}
        occurred_at: list[Any] = []  # event times, for the event-time -> processed histogram
        for event in events:
            message = event.message
            try:
                record = self._decode(message.value)
                check_key(message.key, record["candidate_id"], record["event_id"])
            except SchemaError as exc:
                out.dead_letter(outbox, event, exc)
                metrics.events.labels("dead_lettered").inc()
                continue
            item = ActivityItem(record, message.partition, message.offset)
            occurred_at.append(record["occurred_at"])
            groups.setdefault(message.key, []).append((item, event))
        scored = duplicates = too_late = records = 0
        for key, group in groups.items():
            last = group[-1][1]
            candidate_id = group[0][0].record["candidate_id"]
            stored = out.rows.get(last, key)
            outcome = score_candidate(
                self.model, candidate_id, stored, [i for i, _ in group], self._engine
            )
            for rejected in outcome.rejected:
                event = next(e for i, e in group if i is rejected.item)
                out.dead_letter(outbox, event, rejected.error)
                metrics.events.labels("dead_lettered").inc()
            if outcome.record is None:  # a new candidate whose every event was rejected
                continue
            out.write_row(outbox, last, key, dump_row(outcome.row))
            outbox.add(out.engagement, key, self._encode_record(outcome.record))
            if self.campaigns is not None:
                for decision in outcome.decisions:
                    self.campaigns.add(outbox, key, decision)
            records += 1
            for from_tier, to_tier in outcome.tier_changes:
                metrics.count_transition(from_tier, to_tier)
            scored += outcome.scored
            duplicates += outcome.duplicates
            too_late += outcome.too_late
        out.rows.flush()
        clear_current()
        metrics.engagement_records.inc(records)
        metrics.events.labels("scored").inc(scored)
        metrics.events.labels("duplicate").inc(duplicates)
        metrics.events.labels("too_late").inc(too_late)
        metrics.batch_events.observe(len(events))
        metrics.observe_latency(time.time(), occurred_at)
        return outbox


class ProfileProcessor:
    """Keeps the profile part of the candidate rows from ``candidate.profile``."""

    def __init__(self, outputs: Outputs, campaigns: CampaignOutput | None = None) -> None:
        self.out = outputs
        self.campaigns = campaigns
        self._codec = default_codec()

    def process(self, events: Sequence[Event]) -> Outbox:
        """Apply each profile or erasure record, in order, to its candidate's row."""
        out = self.out
        outbox = out.outbox()
        profiles = out.metrics.profiles
        for event in events:
            message = event.message
            try:
                decoded = self._codec.decode(message.value)
                if decoded.subject not in (PROFILE_SUBJECT, ERASURE_SUBJECT):
                    raise SchemaError(
                        f"{decoded.subject} v{decoded.version} record on the profile topic "
                        f"(expected {PROFILE_SUBJECT} or {ERASURE_SUBJECT})"
                    )
                check_key(message.key, decoded.record["candidate_id"], None)
            except SchemaError as exc:
                out.dead_letter(outbox, event, exc)
                profiles.labels("dead_lettered").inc()
                continue
            key = message.key
            if decoded.subject == ERASURE_SUBJECT:
                out.write_row(outbox, event, key, None)
                # Tombstone: compaction then drops the candidate's engagement record too.
                outbox.add(out.engagement, key, None)
                profiles.labels("erasure").inc()
            else:
                row = load_row(out.rows.get(event, key))
                new_row = with_profile(row, decoded.record)
                if self.campaigns is not None:
                    cid = decoded.record["candidate_id"]
                    decision = self.campaigns.on_profile(cid, row, new_row)
                    if decision is not None:
                        self.campaigns.add(outbox, key, decision)
                out.write_row(outbox, event, key, dump_row(new_row))
                profiles.labels("profile").inc()
            out.rows.flush()  # a later record of this batch may read the row again
        clear_current()
        return outbox
