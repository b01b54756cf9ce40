"""Prometheus metrics of the stream worker (served at ``GET /metrics`` by the worker).

The registry is injected (tests and the benchmark use their own); labels are bounded (outcome,
topic name, event type, error class), never a candidate id, key or offset.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from schemas.errors import NurtureError
from schemas.events import EVENT_TYPES
from schemas.metric_names import (
    CONSUMER_LAG_LABELS,
    CONSUMER_LAG_METRIC,
    FUNNEL_LABELS,
    FUNNEL_METRIC,
)

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


#: Upper bounds of the score distribution histogram (the default model's tiers start at 0, 10,
#: 25 and 50 points).
SCORE_BUCKETS = (1.0, 5.0, 10.0, 15.0, 25.0, 35.0, 50.0, 75.0, 100.0, 150.0, 250.0)


@dataclass
class Population:
    """Candidates of a worker's partitions: count per tier and score distribution."""

    tiers: dict[str, int]
    #: Cumulative count per bucket upper bound (``SCORE_BUCKETS``), then +Inf.
    score_buckets: list[int]
    score_sum: float
    count: int


def population(
    rows: Iterable[bytes | None], tiers: Sequence[str], buckets: Sequence[float] = SCORE_BUCKETS
) -> Population:
    """Count stored candidate rows (orjson bytes, streams/worker/rows.py) by tier and score.

    The score is the one of the candidate's last engagement record (at its newest event time);
    rows without engagement (profile only) are not counted, nor the table's own bookkeeping
    values (stream clocks, timer index buckets, erasure markers: not row dicts). Pure: tested
    without a worker.
    """
    counts = dict.fromkeys(tiers, 0)
    per_bucket = [0] * (len(buckets) + 1)
    total = 0.0
    for data in rows:
        row = orjson.loads(data) if data else None
        engagement = row.get("engagement") if isinstance(row, dict) else None
        if not engagement or engagement.get("at") is None:
            continue
        tier = engagement.get("tier") or tiers[0]
        counts[tier] = counts.get(tier, 0) + 1
        score = max(sum(engagement.get("totals", {}).values()), 0.0)
        total += score
        per_bucket[bisect_left(buckets, score)] += 1
    cumulative = list(accumulate(per_bucket))
    return Population(counts, cumulative, total, cumulative[-1])


#: A population count waits at least this many times its own duration before the next one.
SCAN_SHARE = 20.0


class PopulationCollector(Collector):
    """``nurture_engagement_candidates{tier}`` and ``nurture_engagement_score`` (histogram) from
    the rows of the partitions this worker owns, counted at scrape time at most every
    ``max_age_s`` seconds (a scan of the local store: milliseconds for thousands of candidates,
    about 1-2 s per 100,000)."""

    def __init__(
        self,
        rows: Callable[[], Iterable[bytes | None]],
        tiers: Sequence[str],
        max_age_s: float = 15.0,
    ) -> None:
        self._rows = rows
        self._tiers = tuple(tiers)
        self._max_age_s = max_age_s
        self._cached: Population | None = None
        self._next_count_at = 0.0

    def counted(self) -> Population:
        """The last count, or a new one when it is older than ``max_age_s`` and than
        :data:`SCAN_SHARE` times its own duration (a scan blocks the worker's event loop: with
        many candidates, counting less often keeps that under 1/SCAN_SHARE of the time)."""
        now = time.monotonic()
        if self._cached is None or now >= self._next_count_at:
            self._cached = population(self._rows(), self._tiers)
            took = time.monotonic() - now
            self._next_count_at = now + max(self._max_age_s, SCAN_SHARE * took)
        return self._cached

    def collect(self) -> Iterator[Metric]:
        counted = self.counted()
        candidates = GaugeMetricFamily(
            "nurture_engagement_candidates",
            "Candidates with an engagement score, by tier (this worker's partitions).",
            labels=["tier"],
        )
        for tier, number in counted.tiers.items():
            candidates.add_metric([tier], number)
        yield candidates
        bounds = [*(str(b) for b in SCORE_BUCKETS), "+Inf"]
        yield HistogramMetricFamily(
            "nurture_engagement_score",
            "Engagement scores of candidates at their newest event (this worker's partitions).",
            buckets=list(zip(bounds, counted.score_buckets, strict=True)),
            sum_value=counted.score_sum,
        )


class BulkHistogram(Collector):
    """A histogram observed a batch of values at a time.

    prometheus_client's ``Histogram.observe`` costs about 1.5 µs a value (a lock and a bucket
    search each); the worker observes every event's latency, so it sorts a batch's values once
    and adds each bucket's count. Exposed like a ``Histogram`` (``_bucket{le}``, ``_count``,
    ``_sum``); negative values count as 0.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self._name, self._documentation = name, documentation
        self._bounds = tuple(sorted(buckets))
        label: Callable[[float], str] = floatToGoString  # the `le` of prometheus_client's own
        self._labels = [label(bound) for bound in self._bounds]
        #: Cumulative count per bound (values <= bound), then the total.
        self._cumulative = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_many(self, values: list[float]) -> None:
        """Observe ``values`` (sorted in place)."""
        if not values:
            return
        values.sort()
        counts = [bisect_right(values, bound) for bound in self._bounds]
        total = sum(values[bisect_right(values, 0.0) :])  # negatives count as 0
        with self._lock:
            cumulative = self._cumulative
            for index, number in enumerate(counts):
                cumulative[index] += number
            cumulative[-1] += len(values)
            self._sum += total

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            cumulative, total = list(self._cumulative), self._sum
        yield HistogramMetricFamily(
            self._name,
            self._documentation,
            buckets=[*zip(self._labels, cumulative, strict=False), ("+Inf", cumulative[-1])],
            sum_value=total,
        )


class LagCollector(Collector):
    """``nurture_consumer_lag_records{topic,partition}``: records not yet committed on each
    assigned source partition, read at scrape time from ``lag`` (``"topic:partition"`` ->
    records, as :meth:`streams.worker.liveness.CommitWatch.lag` returns)."""

    def __init__(self, lag: Callable[[], Mapping[str, int]]) -> None:
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            CONSUMER_LAG_METRIC,
            "Records on an assigned partition not yet committed by this consumer group.",
            labels=CONSUMER_LAG_LABELS,
        )
        for where, records in sorted(self._lag().items()):
            topic, _, partition = where.rpartition(":")
            family.add_metric([topic, partition], records)
        yield family
