"""Prometheus metrics of the stream worker (served at ``GET /metrics`` by the worker).

The registry is injected (tests and the benchmark use their own); labels are bounded (outcome,
topic name, event type, error class), never a candidate id, key or offset.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.errors import NurtureError
from schemas.events import EVENT_TYPES
from schemas.metric_names import (
    FUNNEL_LABELS,
    FUNNEL_METRIC,
)
from streams.worker.collectors import BulkHistogram

_EVENT_TYPES = frozenset(EVENT_TYPES)
#: Outcomes of an activity event: counted once each time the worker processes the event.
OUTCOMES = ("scored", "duplicate", "too_late", "dead_lettered", "erased")
#: Event time -> processed: seconds for live traffic, up to days for backfills and replays.
EVENT_LATENCY_BUCKETS = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    21600.0,
    86400.0,
    604800.0,
    2592000.0,
)


def event_type_label(event_type: object) -> str:
    """An event type as a label value: a type of the contract, else ``other`` (bounded)."""
    return event_type if isinstance(event_type, str) and event_type in _EVENT_TYPES else "other"


def dead_letter_reason(error: BaseException) -> str:
    """The reason label of a dead letter: the class name of one of our errors (a bounded set:
    the :class:`~schemas.errors.NurtureError` hierarchy), else ``other``."""
    return type(error).__name__ if isinstance(error, NurtureError) else "other"


class WorkerMetrics:
    """The worker's metrics, all under ``{prefix}_`` (default ``nurture_worker``)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        prefix: str = "nurture_worker",
        actions_prefix: str = "nurture_actions",
    ) -> None:
        self.registry = registry
        self._declare_campaign_actions(actions_prefix)
        self._declare_record_outcomes(prefix)
        self._declare_dead_letters(prefix)
        self._declare_throughput(prefix)
        self._declare_liveness(prefix)
        self._declare_engagement()

    def _declare_campaign_actions(self, actions_prefix: str) -> None:
        """What campaigns decided: actions published, refused by a guard, held for quiet hours.
        Campaign ids come from the definition files and reasons from guards.REASONS: bounded."""
        self.actions_emitted = Counter(
            f"{actions_prefix}_emitted_total",
            "Campaign actions published to nurture.action, by campaign and channel.",
            ["campaign", "channel"],
            registry=self.registry,
        )
        self.actions_suppressed = Counter(
            f"{actions_prefix}_suppressed_total",
            "Campaign steps a guard refused, by campaign and reason.",
            ["campaign", "reason"],
            registry=self.registry,
        )
        self.actions_held = Counter(
            f"{actions_prefix}_held_total",
            "Campaign actions held for quiet hours, by campaign.",
            ["campaign"],
            registry=self.registry,
        )

    def _declare_record_outcomes(self, prefix: str) -> None:
        """What became of each source record: activity events, profile records, fetches that did
        not continue, timer wake-ups."""
        self.events = Counter(
            f"{prefix}_events_total",
            "Activity events processed, by outcome (scored, duplicate, too_late, dead_lettered, "
            "erased: dropped because the candidate was erased).",
            ["outcome"],
            registry=self.registry,
        )
        self.profiles = Counter(
            f"{prefix}_profile_records_total",
            "Profile topic records processed, by outcome (profile, erasure, dead_lettered, "
            "erased: a profile of an erased candidate, dropped).",
            ["outcome"],
            registry=self.registry,
        )
        self.intake_discontinuities = Counter(
            f"{prefix}_intake_discontinuities_total",
            "Fetches of candidate.activity that did not continue where processing left off, by "
            "outcome (rewind: read again from there; retention_gap: the log no longer has the "
            "records in between; hole: no records there after a re-read; reread: a fetch dropped "
            "unprocessed, read again).",
            ["outcome"],
            registry=self.registry,
        )
        self.timer_wakeups = Counter(
            f"{prefix}_timer_wakeups_total",
            "Candidates woken by the campaign timer (steps after waits, quiet-hours releases, "
            "inactivity deadlines).",
            registry=self.registry,
        )

    def _declare_dead_letters(self, prefix: str) -> None:
        """Records set aside on a dead-letter topic, and why."""
        self.dead_letters = Counter(
            f"{prefix}_dead_letters_total",
            "Records published to a dead-letter topic, by dead-letter topic and reason (the "
            "error's class, one of ours; 'other' for anything else).",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.wrong_partition = Counter(
            f"{prefix}_records_on_wrong_partition_total",
            "Source records on a partition their key does not hash to (a producer with another "
            "partitioner than murmur2), dead-lettered; by source topic and partition.",
            ["topic", "partition"],
            registry=self.registry,
        )

    def _declare_throughput(self, prefix: str) -> None:
        """How much the worker processes and how fast: events by type, engagement records
        published, batch time and size."""
        self.event_types = Counter(
            f"{prefix}_events_by_type_total",
            "Activity events decoded and processed (any outcome), by event type of the contract.",
            ["type"],
            registry=self.registry,
        )
        self.engagement_records = Counter(
            f"{prefix}_engagement_records_total",
            "Engagement records published to candidate.engagement.",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            f"{prefix}_batch_seconds",
            "Time to process one batch of activity events (decode, score, publish).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.batch_events = Histogram(
            f"{prefix}_batch_events",
            "Activity events per batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=self.registry,
        )

    def _declare_liveness(self, prefix: str) -> None:
        """Whether the worker keeps up: commit progress, lag and event-time latency."""
        self.last_commit = Gauge(
            f"{prefix}_last_commit_progress_timestamp_seconds",
            "Unix time the worker last saw its committed offsets advance or no backlog (liveness).",
            registry=self.registry,
        )
        self.lag = Gauge(
            f"{prefix}_lag_records",
            "Records on this worker's assigned source partitions not yet committed.",
            registry=self.registry,
        )
        self.event_latency = BulkHistogram(
            f"{prefix}_event_latency_seconds",
            "Event time (occurred_at) to the moment the worker processed the event.",
            EVENT_LATENCY_BUCKETS,
        )
        self.registry.register(self.event_latency)

    def _declare_engagement(self) -> None:
        """Candidates moving through tiers and the funnel (names shared with other processes)."""
        self.tier_transitions = Counter(
            "nurture_engagement_tier_transitions_total",
            "Tier changes of candidates (from_tier 'none': first tier of a new candidate).",
            ["from_tier", "to_tier"],
            registry=self.registry,
        )
        self.funnel = Counter(
            FUNNEL_METRIC,
            "Marketing funnel by campaign and stage; this process counts 'applied' (an "
            "application_submitted event ended an enrollment of the campaign).",
            FUNNEL_LABELS,
            registry=self.registry,
        )

    def observe_latency(self, processed_at_s: float, occurred_at: Iterable[int | datetime]) -> None:
        """Observe the event-time -> processed latency of events (``occurred_at`` as epoch µs
        or aware datetimes, as the codec decodes them; ``processed_at_s`` is Unix time)."""
        self.event_latency.observe_many(
            [
                processed_at_s - (when / 1_000_000 if isinstance(when, int) else when.timestamp())
                for when in occurred_at
            ]
        )

    def count_types(self, event_types: Iterable[object]) -> None:
        """Add one per processed event to its type's counter (one ``inc`` per type)."""
        # Tallied raw, labelled per distinct type (types outside the vocabulary share a label).
        for event_type, number in Tally(event_types).items():
            self.event_types.labels(event_type_label(event_type)).inc(number)

    def count_transition(self, from_tier: str | None, to_tier: str) -> None:
        self.count_transitions([(from_tier, to_tier)])

    def count_transitions(self, changes: Iterable[tuple[str | None, str]]) -> None:
        """:meth:`count_transition` of each change (one ``inc`` per distinct pair)."""
        for (from_tier, to_tier), number in Tally(changes).items():
            self.tier_transitions.labels(from_tier or "none", to_tier).inc(number)

    def know_campaigns(self, campaign_ids: Iterable[str]) -> None:
        """Show every campaign's 'applied' stage at 0 before the first application."""
        for campaign_id in campaign_ids:
            self.funnel.labels(campaign_id, "applied")
