"""Prometheus collectors of the worker that compute at scrape time or take many observations at
once: the candidate population (count per tier, score distribution) of the partitions this worker
owns, a histogram fed in bulk, and the consumer lag. :class:`~streams.worker.metrics.WorkerMetrics`
declares the worker's ordinary counters and gauges.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

import orjson
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from schemas.metric_names import (
    CONSUMER_LAG_LABELS,
    CONSUMER_LAG_METRIC,
)

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
