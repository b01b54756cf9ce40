"""The replay's processing: the live worker's own processors, fed batches outside faust.

:class:`ReplayProcessor` builds the worker's :class:`ActivityProcessor`,
:class:`ProfileProcessor` and (with campaigns) the stream-clock :class:`TimerProcessor` over an
in-memory table (a dict per replayed partition) and feeds them the records of one partition in
replay order, in batches of consecutive records of one topic (at most ``batch`` records).
Each step is sealed and committed exactly as the worker's runner does, so rows, timer index
entries, erasure markers, engagement records and actions are the bytes the worker would
produce. What comes out:

* ``changelog``: the last value per table key (rows, timer index, markers; None: tombstone);
* ``engagement``: the last encoded engagement record per candidate key (None: tombstone);
* ``take_actions()``: ``(key, value)`` of encoded actions in decision order, ``replay: true``,
  only those decided inside the window (warm-up steps build state but emit nothing);
* ``counts``: from the worker's own metrics, for the window only.

Campaign timers run on the stream clock (each partition's latest event time), the worker's
deterministic clock: the same records give the same decisions however fast they are replayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.codec import activity_codec
from schemas.errors import SchemaError
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.timestamps import to_micros
from streams.campaigns import Engine
from streams.replay.counts import ReplayCounts
from streams.scoring.config import ScoringModel
from streams.worker.campaigns import CampaignOutput
from streams.worker.erasure import ErasureMarks
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor, ProfileProcessor
from streams.worker.step import Step
from streams.worker.timers import StreamClock, TimerProcessor
from streams.worker.wire import WorkerCodecs, single_object_codecs

#: Records per processing step. Larger than the worker's batches (``BATCH_SIZE``, or a whole
#: fetch): a candidate's row is then read and written once for more of its events (about a
#: third less CPU per event than 1,000); results do not depend on it (see docs/replay.md).
DEFAULT_BATCH = 10_000


@dataclass(frozen=True)
class ReplayOptions:
    """How a replay processes records; none of it changes the state it computes."""

    #: Mark every action ``replay: true`` (delivery never sends them).
    replay_flag: bool = True
    #: Remember the trigger of every replayed record (the shadow diff matches actions on them).
    collect_triggers: bool = False
    #: Records per processing step.
    batch: int = DEFAULT_BATCH
    #: Schema Registry mode (None, or no URL: off): outputs framed the Confluent way and both
    #: framings read, as the live worker does (picklable settings; each process builds its
    #: codecs from them once).
    schema_registry: SchemaRegistrySettings | None = None


#: A rebuild's options: actions marked as replayed, no triggers, ``DEFAULT_BATCH`` per step.
REBUILD_OPTIONS = ReplayOptions()


@dataclass(frozen=True, slots=True)
class ReplayMessage:
    """The parts of a Kafka record the worker's processors read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int

    @property
    def message(self) -> ReplayMessage:
        """Itself: processors that take faust events read ``event.message``."""
        return self


@dataclass
class _DictTable:
    """Stands in for the faust table: ``data`` is the local store (one dict)."""

    data: dict[bytes, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """Full topic names the processors write to, partition counts of the keyed ones, and
    the codecs their records are written and read with."""

    activity: str
    profile: str
    changelog: str
    engagement: str
    action: str
    activity_dlq: str
    profile_dlq: str
    partitions: dict[str, int]
    #: ``candidate.suppression`` (None: the candidates' unsubscribes are not published).
    suppression: str | None = None
    #: The live worker's encoders and decoders (None: single-object framing, the mode off).
    codecs: WorkerCodecs | None = None


class ReplayProcessor:
    """Replays one partition's records through the worker's processors."""

    def __init__(
        self,
        model: ScoringModel,
        engine: Engine | None,
        topics: Topics,
        erasure: ErasureMarks,
        options: ReplayOptions = REBUILD_OPTIONS,
    ) -> None:
        self.topics = topics
        #: The live worker's codecs (its framing; default single-object, the mode off).
        self.codecs = topics.codecs or single_object_codecs()
        self._decode_activity = self.codecs.wire.subject_decoder(activity_codec())
        self.batch = options.batch
        self.collect_triggers = options.collect_triggers
        self.metrics = WorkerMetrics(CollectorRegistry())
        self.outputs = Outputs(
            table=_DictTable(),
            changelog=topics.changelog,
            engagement=topics.engagement,
            dlq={topics.activity: topics.activity_dlq, topics.profile: topics.profile_dlq},
            partitions=topics.partitions,
            metrics=self.metrics,
            erasure=erasure,
            # As in the worker: the unsubscribe map exists only with the campaign engine.
            suppression=None if engine is None else topics.suppression,
            codecs=self.codecs,
        )
        campaigns = (
            None
            if engine is None
            else CampaignOutput(
                engine,
                topics.action,
                self.metrics,
                model.version,
                replay=options.replay_flag,
                codecs=self.codecs,
            )
        )
        clock = None if campaigns is None else StreamClock(TimerProcessor(self.outputs, campaigns))
        self._activity = ActivityProcessor(model, self.outputs, campaigns, stream_clock=clock)
        self._profile = ProfileProcessor(self.outputs, campaigns)
        self.changelog: dict[bytes, bytes | None] = {}
        self.engagement: dict[bytes, bytes | None] = {}
        #: The last ``candidate.suppression`` record per candidate (None: erased).
        self.suppression: dict[bytes, bytes | None] = {}
        self.triggers: set[str] = set()
        self.records = 0
        self._actions: list[tuple[bytes, bytes]] = []
        self._window_start: ReplayCounts | None = None
        self._pending: list[ReplayMessage] = []
        self._pending_source = ""
        self._pending_emit = True

    def add(self, source: str, record: Any, *, emit: bool) -> None:
        """Queue one Kafka record of ``source`` (``activity`` or ``profile``); ``emit`` False
        for warm-up records. Steps run when the source or window changes or a batch is full."""
        if (source, emit) != (self._pending_source, self._pending_emit) or (
            len(self._pending) >= self.batch
        ):
            self.flush()
            self._pending_source, self._pending_emit = source, emit
        topic = self.topics.activity if source == "activity" else self.topics.profile
        message = ReplayMessage(
            topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            list(record.headers or ()),
            record.timestamp,
        )
        self._pending.append(message)
        self.records += 1
        if emit and self.collect_triggers:
            self._remember_trigger(source, record.key, record.value)

    def flush(self) -> None:
        """Run the queued records as one step of the worker."""
        events, self._pending = self._pending, []
        if not events:
            return
        if self._pending_emit and self._window_start is None:
            self._window_start = self.snapshot()
        if self._pending_source == "activity":
            step = self._activity.process(events)
        else:
            step = self._profile.process(events)
        self._commit(step, emit=self._pending_emit)

    def _commit(self, step: Step, *, emit: bool) -> None:
        outbox = step.seal()
        self.outputs.rows.commit(step.writes, {}, lambda _partition, _offset: None)
        topics = self.topics
        for (topic, _partition), records in outbox.records.items():
            if topic == topics.changelog:
                for key, value, _headers in records:
                    assert key is not None
                    self.changelog[key] = value
            elif topic == topics.engagement:
                for key, value, _headers in records:
                    assert key is not None
                    self.engagement[key] = value
            elif topic == topics.suppression:
                for key, value, _headers in records:
                    assert key is not None
                    self.suppression[key] = value
            elif topic == topics.action and emit:
                for key, value, _headers in records:
                    assert key is not None and value is not None
                    self._actions.append((key, value))

    def take_actions(self) -> list[tuple[bytes, bytes]]:
        """The actions decided since the last call, as ``(key, value)`` to publish in order."""
        actions, self._actions = self._actions, []
        return actions

    @property
    def counts(self) -> ReplayCounts:
        """What the window's steps did (warm-up excluded), from the worker's metrics."""
        total = self.snapshot()
        counts = ReplayCounts() if self._window_start is None else total.minus(self._window_start)
        counts.records = self.records
        return counts

    def snapshot(self) -> ReplayCounts:
        """The worker metrics' totals so far as counts."""
        counts = ReplayCounts()
        for family in self.metrics.registry.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                counts.absorb(sample.name, sample.labels, int(sample.value))
        return counts

    def _remember_trigger(self, source: str, key: bytes | None, value: bytes | None) -> None:
        try:
            if source == "activity":
                record = self._decode_activity(value or b"")
                self.triggers.add(trigger_key(record["candidate_id"], record["event_id"]))
                return
            decoded = self.codecs.decode_profile(value or b"")
        except SchemaError:
            return
        updated_at = decoded.record.get("updated_at")
        if updated_at is not None:
            at_us = updated_at if isinstance(updated_at, int) else to_micros(updated_at)
            self.triggers.add(trigger_key(decoded.record["candidate_id"], f"profile:{at_us}"))


def trigger_key(candidate_id: str, trigger_id: str) -> str:
    """What the diff matches live actions on: the candidate and the trigger (an event id, or
    ``profile:<updated_at µs>`` for a profile change, as the engine names them)."""
    return f"{candidate_id}\x1f{trigger_id}"
