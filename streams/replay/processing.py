"""The replay's processing: the worker's pure functions applied to records in a fixed order.

No Kafka here. :class:`ReplayProcessor` takes the records of one partition (activity and
profile, merged by the reader) and keeps the candidate rows in memory. Activity events wait per
candidate and are scored together (:func:`score_candidate`, like one worker batch) until that
candidate's profile changes, the pending set grows past ``chunk`` events or the replay window
starts; candidates are independent, so where those cuts fall never changes a result. What the
worker would publish comes out as:

* ``rows``: the final row per candidate key (None after an erasure: a changelog tombstone);
* ``engagement``: the final encoded engagement record per key (None: tombstone);
* ``take_actions()``: encoded ``nurture_action`` records in decision order, ``replay`` set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.codec import activity_codec, codec_for, default_codec
from schemas.errors import SchemaError
from streams.campaigns import Decision, Engine
from streams.metrics import WorkerMetrics
from streams.replay.counts import ReplayCounts
from streams.scoring.config import ScoringModel
from streams.worker.campaigns import CampaignOutput
from streams.worker.engagement import ActivityItem, score_candidate
from streams.worker.processor import check_key
from streams.worker.profile import ERASURE_SUBJECT, PROFILE_SUBJECT, with_profile
from streams.worker.rows import dump_row, load_row

#: Pending activity events (all candidates) after which they are scored.
DEFAULT_CHUNK = 5_000


@dataclass
class ReplayProcessor:
    """Rows, outputs and counts of a replay over one or more partitions."""

    model: ScoringModel
    engine: Engine | None
    #: Value of the ``replay`` field of every action produced (True for rebuilds and shadows).
    replay_flag: bool = True
    #: Remember ``candidate\\x1ftrigger id`` of every record in the window (for `replay diff`).
    collect_triggers: bool = False
    chunk: int = DEFAULT_CHUNK
    rows: dict[bytes, bytes | None] = field(default_factory=dict)
    engagement: dict[bytes, bytes | None] = field(default_factory=dict)
    counts: ReplayCounts = field(default_factory=ReplayCounts)
    triggers: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._decode_activity = activity_codec().decode
        self._codec = default_codec()
        self._encode_record = codec_for("engagement_record").encode
        self._encode_action = codec_for("nurture_action").encode
        self._campaigns = (
            None
            if self.engine is None
            else CampaignOutput(
                self.engine, "", WorkerMetrics(CollectorRegistry()), self.model.version
            )
        )
        self._pending: dict[bytes, list[ActivityItem]] = {}
        self._pending_count = 0
        self._pending_emit = True
        self._actions: list[tuple[bytes, bytes]] = []

    # -- input -------------------------------------------------------------------------------

    def activity(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int, *, emit: bool
    ) -> None:
        """One ``candidate.activity`` record; ``emit`` False: warm-up (state only, no output
        of decisions)."""
        self.counts.activity_records += 1
        try:
            record = self._decode_activity(value or b"")
            check_key(key, record["candidate_id"], record["event_id"])
        except SchemaError:
            self.counts.dead_lettered += 1
            return
        assert key is not None
        if emit and self.collect_triggers:
            self.triggers.add(trigger_key(record["candidate_id"], record["event_id"]))
        if emit != self._pending_emit:
            self.flush()
            self._pending_emit = emit
        self._pending.setdefault(key, []).append(ActivityItem(record, partition, offset))
        self._pending_count += 1
        if self._pending_count >= self.chunk:
            self.flush()

    def profile(self, key: bytes | None, value: bytes | None, *, emit: bool) -> None:
        """One ``candidate.profile`` record (profile or erasure request)."""
        self.counts.profile_records += 1
        try:
            decoded = self._codec.decode(value or b"")
            if decoded.subject not in (PROFILE_SUBJECT, ERASURE_SUBJECT):
                raise SchemaError(f"{decoded.subject} record on the profile topic")
            check_key(key, decoded.record["candidate_id"], None)
        except SchemaError:
            self.counts.dead_lettered += 1
            return
        assert key is not None
        self._flush_candidate(key)
        if decoded.subject == ERASURE_SUBJECT:
            self.rows[key] = None
            self.engagement[key] = None
            self.counts.erasures += 1
            return
        row = load_row(self.rows.get(key))
        new_row = with_profile(row, decoded.record)
        if self._campaigns is not None:
            decision = self._campaigns.on_profile(decoded.record["candidate_id"], row, new_row)
            if decision is not None and emit:
                self._emit(key, decision)
        updated_at = (new_row.get("profile") or {}).get("updated_at")
        if emit and self.collect_triggers and updated_at is not None:
            cid = decoded.record["candidate_id"]
            self.triggers.add(trigger_key(cid, f"profile:{int(updated_at)}"))
        self.rows[key] = dump_row(new_row)

    # -- processing ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Score every pending activity event."""
        for key in list(self._pending):
            self._flush_candidate(key)

    def _flush_candidate(self, key: bytes) -> None:
        items = self._pending.pop(key, None)
        if not items:
            return
        self._pending_count -= len(items)
        candidate_id = items[0].record["candidate_id"]
        outcome = score_candidate(self.model, candidate_id, self.rows.get(key), items, self.engine)
        counts = self.counts
        counts.dead_lettered += len(outcome.rejected)
        if outcome.record is None:
            return
        self.rows[key] = dump_row(outcome.row)
        self.engagement[key] = self._encode_record(outcome.record)
        counts.scored += outcome.scored
        counts.duplicates += outcome.duplicates
        counts.too_late += outcome.too_late
        if self._pending_emit:
            for decision in outcome.decisions:
                self._emit(key, decision)

    def _emit(self, key: bytes, decision: Decision) -> None:
        counts = self.counts
        for action in decision.actions:
            action["replay"] = self.replay_flag
            self._actions.append((key, self._encode_action(action)))
            counts.emitted[(action["campaign_id"], action["channel"])] += 1
        for outcome in decision.suppressed:
            counts.suppressed[(outcome.campaign_id, outcome.reason or "")] += 1
        for outcome in decision.held:
            counts.held[outcome.campaign_id] += 1

    def take_actions(self) -> list[tuple[bytes, bytes]]:
        """The actions decided since the last call, as ``(key, value)`` to publish in order."""
        actions, self._actions = self._actions, []
        return actions


def trigger_key(candidate_id: str, trigger_id: str) -> str:
    """What the diff matches live actions on: the candidate and the trigger (an event id, or
    ``profile:<updated_at µs>`` for a profile change, as the engine names them)."""
    return f"{candidate_id}\x1f{trigger_id}"


def decoded_action(value: bytes) -> dict[str, Any]:
    """A ``nurture_action`` record (for reading action topics back)."""
    return codec_for("nurture_action").decode(value)
