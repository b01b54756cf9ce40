"""Prometheus metrics of the stream worker (served at ``GET /metrics`` by the worker).

The registry is injected (tests and the benchmark use their own); labels are bounded (outcome,
topic name), never a candidate id, key or offset.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Outcomes of an activity event: counted once each time the worker processes the event.
OUTCOMES = ("scored", "duplicate", "too_late", "dead_lettered")


class WorkerMetrics:
    """The worker's metrics, all under ``{prefix}_`` (default ``nurture_worker``)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        prefix: str = "nurture_worker",
        actions_prefix: str = "nurture_actions",
    ) -> None:
        self.registry = registry
        # Campaign ids come from the definition files and reasons from guards.REASONS: bounded.
        self.actions_emitted = Counter(
            f"{actions_prefix}_emitted_total",
            "Campaign actions published to nurture.action, by campaign and channel.",
            ["campaign", "channel"],
            registry=registry,
        )
        self.actions_suppressed = Counter(
            f"{actions_prefix}_suppressed_total",
            "Campaign steps a guard refused, by campaign and reason.",
            ["campaign", "reason"],
            registry=registry,
        )
        self.actions_held = Counter(
            f"{actions_prefix}_held_total",
            "Campaign actions held for quiet hours, by campaign.",
            ["campaign"],
            registry=registry,
        )
        self.events = Counter(
            f"{prefix}_events_total",
            "Activity events processed, by outcome (scored, duplicate, too_late, dead_lettered).",
            ["outcome"],
            registry=registry,
        )
        self.profiles = Counter(
            f"{prefix}_profile_records_total",
            "Profile topic records processed, by outcome (profile, erasure, dead_lettered).",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            f"{prefix}_dead_letters_total",
            "Records published to a dead-letter topic, by dead-letter topic.",
            ["topic"],
            registry=registry,
        )
        self.engagement_records = Counter(
            f"{prefix}_engagement_records_total",
            "Engagement records published to candidate.engagement.",
            registry=registry,
        )
        self.batch_seconds = Histogram(
            f"{prefix}_batch_seconds",
            "Time to process one batch of activity events (decode, score, publish).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )
        self.batch_events = Histogram(
            f"{prefix}_batch_events",
            "Activity events per batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=registry,
        )
        self.last_commit = Gauge(
            f"{prefix}_last_commit_progress_timestamp_seconds",
            "Unix time the worker last saw its committed offsets advance or no backlog (liveness).",
            registry=registry,
        )
        self.lag = Gauge(
            f"{prefix}_lag_records",
            "Records on this worker's assigned source partitions not yet committed.",
            registry=registry,
        )
