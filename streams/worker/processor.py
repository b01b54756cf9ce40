"""What the agents do with a batch: decode, check, dead-letter, score, decide, write.

``process`` is synchronous on purpose: a batch is read, scored and written to the row overlay
without an ``await`` in between, so the steps that share the candidate rows (the activity and
profile agents, the campaign timer) never interleave inside one row's read-modify-write. Every
record a step causes (changelog, engagement, actions, dead letters) goes to its
:class:`~streams.worker.step.Step`; the runner (``streams/worker/app.py``) publishes it, waits
for the acknowledgements, and only then applies the rows to the local store. faust commits an offset
only after the batch holding it went through all of that (at-least-once, no lost output).

Beside it: where the results go (``outputs.py``), the checks each record passes
(``record_checks.py``) and the campaign timers (``timers.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from schemas.errors import RecordTooLargeError, SchemaError, WrongSubjectError
from schemas.timestamps import to_micros
from streams.campaigns.timers import TimerIndex
from streams.scoring.config import ScoringModel
from streams.worker.campaigns import CampaignOutput
from streams.worker.engagement import ActivityItem, score_candidate
from streams.worker.outputs import Outputs, Record
from streams.worker.profile import ERASURE_SUBJECT, PROFILE_SUBJECT, with_profile
from streams.worker.record_checks import check_key, check_partition, check_size, check_time
from streams.worker.rows import dump_row, load_row
from streams.worker.settings import DEFAULT_MAX_RECORD_BYTES
from streams.worker.step import Step
from streams.worker.suppression import changed_suppression
from streams.worker.timers import StreamClock


class ActivityProcessor:
    """Scores batches of ``candidate.activity`` events into the candidate rows."""

    def __init__(
        self,
        model: ScoringModel,
        outputs: Outputs,
        campaigns: CampaignOutput | None = None,
        *,
        stream_clock: StreamClock | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.model = model
        self.out = outputs
        #: Larger values are dead-lettered undecoded (WorkerSettings.max_record_bytes).
        self.max_record_bytes = max_record_bytes
        #: The campaign engine and its output (None: scoring only).
        self.campaigns = campaigns
        #: With a stream clock, timers fire on each partition's stream time after every batch.
        self.stream_clock = stream_clock
        self._decode = outputs.codecs.decode_activity  # occurred_at as epoch µs
        self._encode_record = outputs.codecs.encode_engagement

    def _group(
        self, step: Step, messages: Sequence[Record]
    ) -> tuple[dict[bytes, list[tuple[ActivityItem, Record]]], list[Any]]:
        """Decode the batch (dead-lettering what does not decode) and group it by candidate;
        also returns the event times (for the event-time -> processed histogram)."""
        out, metrics = self.out, self.out.metrics
        decode, limit = self._decode, self.max_record_bytes
        partitions = out.source_partitions
        groups: dict[bytes, list[tuple[ActivityItem, Record]]] = {}
        occurred_at: list[Any] = []
        for message in messages:
            value = message.value
            try:
                if value is not None and len(value) > limit:  # check_size, inlined: per event
                    raise RecordTooLargeError(len(value), limit)
                record = decode(value)  # a null value raises TombstoneError
                check_key(message.key, record["candidate_id"], record["event_id"])
                check_time(record["occurred_at"], record["event_id"])  # redrive cannot fix it
                check_partition(message.key, message.partition, partitions)
            except SchemaError as exc:
                out.dead_letter(step.outbox, message, exc)
                metrics.events.labels("dead_lettered").inc()
                continue
            item = ActivityItem(record, message.partition, message.offset)
            occurred_at.append(record["occurred_at"])
            groups.setdefault(message.key, []).append((item, message))
        return groups, occurred_at

    def process(self, messages: Sequence[Record]) -> Step:
        """Process one batch (records of any partitions, each partition in offset order)."""
        out, metrics = self.out, self.out.metrics
        step = out.step()
        outbox = step.outbox
        groups, occurred_at = self._group(step, messages)
        scored = duplicates = too_late = records = erased = 0
        tier_changes: list[tuple[str | None, str]] = []
        campaigns = self.campaigns
        for key, group in groups.items():
            partition = group[0][1].partition
            candidate_id = group[0][0].record["candidate_id"]
            stored = step.get(partition, key)
            if stored is None and out.erased(step, partition, candidate_id):
                erased += len(group)  # erased: dropped and counted, never stored
                continue
            outcome = score_candidate(self.model, candidate_id, stored, [i for i, _ in group])
            for rejected in outcome.rejected:
                message = next(m for i, m in group if i is rejected.item)
                out.dead_letter(outbox, message, rejected.error)
                metrics.events.labels("dead_lettered").inc()
            if outcome.record is None:  # a new candidate whose every event was rejected
                continue
            if campaigns is not None and outcome.events:
                decisions = campaigns.on_scored(candidate_id, outcome.row, outcome.events)
                index = TimerIndex(step.index_store(partition), partition=partition)
                for decision in decisions:
                    campaigns.add(outbox, key, decision)
                    campaigns.schedule(index, candidate_id, decision)
                if out.suppression is not None:  # an unsubscribe stops actions already decided
                    items = [i for i, _ in group]
                    change = changed_suppression(candidate_id, items, stored, outcome.row)
                    if change is not None:
                        outbox.add(out.suppression, key, out.codecs.encode_suppression(change))
            step.put(partition, key, dump_row(outcome.row))
            outbox.add(out.engagement, key, self._encode_record(outcome.record))
            records += 1
            if outcome.tier_changes:
                tier_changes += outcome.tier_changes
            scored += outcome.scored
            duplicates += outcome.duplicates
            too_late += outcome.too_late
        if self.stream_clock is not None:
            self.stream_clock.advance(step, groups.values())
        metrics.engagement_records.inc(records)
        metrics.count_transitions(tier_changes)
        metrics.events.labels("scored").inc(scored)
        metrics.events.labels("duplicate").inc(duplicates)
        metrics.events.labels("too_late").inc(too_late)
        metrics.events.labels("erased").inc(erased)
        metrics.batch_events.observe(len(messages))
        metrics.count_types(item.record["type"] for group in groups.values() for item, _ in group)
        metrics.observe_latency(time.time(), occurred_at)
        return step


class ProfileProcessor:
    """Keeps the profile part of the candidate rows from ``candidate.profile``, and erases."""

    def __init__(
        self,
        outputs: Outputs,
        campaigns: CampaignOutput | None = None,
        *,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.out = outputs
        self.campaigns = campaigns
        #: Larger values are dead-lettered undecoded (WorkerSettings.max_record_bytes).
        self.max_record_bytes = max_record_bytes
        self._decode = outputs.codecs.decode_profile

    def process(self, messages: Sequence[Record]) -> Step:
        """Apply each profile or erasure record, in order, to its candidate's row."""
        out = self.out
        step = out.step()
        profiles = out.metrics.profiles
        for message in messages:
            try:
                check_size(message.value, self.max_record_bytes)
                decoded = self._decode(message.value)
                if decoded.subject not in (PROFILE_SUBJECT, ERASURE_SUBJECT):
                    raise WrongSubjectError(
                        f"{PROFILE_SUBJECT} or {ERASURE_SUBJECT}", decoded.subject, decoded.version
                    )
                check_key(message.key, decoded.record["candidate_id"], None)
                check_partition(message.key, message.partition, out.source_partitions)
            except SchemaError as exc:
                out.dead_letter(step.outbox, message, exc)
                profiles.labels("dead_lettered").inc()
                continue
            key, partition = message.key, message.partition
            candidate_id = decoded.record["candidate_id"]
            if decoded.subject == ERASURE_SUBJECT:
                self._erase(step, partition, key, candidate_id, decoded.record["requested_at"])
                profiles.labels("erasure").inc()
                continue
            stored = step.get(partition, key)
            if stored is None and out.erased(step, partition, candidate_id):
                profiles.labels("erased").inc()  # dropped: an erased candidate stays erased
                continue
            row = load_row(stored)
            new_row = with_profile(row, decoded.record)
            campaigns = self.campaigns
            if campaigns is not None:
                decision = campaigns.on_profile(candidate_id, row, new_row)
                if decision is not None:
                    campaigns.add(step.outbox, key, decision)
                    index = TimerIndex(step.index_store(partition), partition=partition)
                    campaigns.schedule(index, candidate_id, decision)
            step.put(partition, key, dump_row(new_row))
            profiles.labels("profile").inc()
        return step

    def _erase(
        self, step: Step, partition: int, key: bytes, candidate_id: str, requested_at: Any
    ) -> None:
        """Forget the candidate: end enrollments and held actions, delete the row, tombstone
        the engagement record, and leave a marker without personal data."""
        out = self.out
        at_us = requested_at if type(requested_at) is int else to_micros(requested_at)
        stored = step.get(partition, key)
        campaigns = self.campaigns
        if stored is not None and campaigns is not None:
            decision = campaigns.on_erasure(candidate_id, load_row(stored), at_us)
            campaigns.add(step.outbox, key, decision)
            index = TimerIndex(step.index_store(partition), partition=partition)
            campaigns.schedule(index, candidate_id, decision)
        step.put(partition, key, None)
        # Tombstone: compaction then drops the candidate's engagement record too.
        step.outbox.add(out.engagement, key, None)
        if out.suppression is not None:
            step.outbox.add(out.suppression, key, None)
        if out.erasure is not None:
            step.put_internal(partition, out.erasure.key(candidate_id), out.erasure.marker(at_us))
