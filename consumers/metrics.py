"""Prometheus metrics of a delivery consumer (served by ``nurture deliver --metrics-port``).

The registry is injected (tests use their own); labels are bounded (channel, outcome, reason
from a fixed set of labels), never a candidate id, action id or endpoint URL.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.metric_names import (
    CONSUMER_LAG_LABELS,
    CONSUMER_LAG_METRIC,
    FUNNEL_LABELS,
    FUNNEL_METRIC,
)

#: Channels whose sends are e-mails that can be opened and clicked: the funnel's "sent".
FUNNEL_CHANNELS = frozenset({"email", "career_event_invite"})


class DeliveryMetrics:
    """The delivery consumer's metrics, all under ``{prefix}_`` (default ``nurture_delivery``)."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "nurture_delivery") -> None:
        self.registry = registry
        self.outcomes = Counter(
            f"{prefix}_outcomes_total",
            "Final outcomes recorded, by channel, outcome and reason (empty for sent).",
            ["channel", "outcome", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            f"{prefix}_retries_total",
            "Attempts that failed retriably and were scheduled again, by channel and reason.",
            ["channel", "reason"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            f"{prefix}_send_seconds",
            "Time of one send to the peer (SMTP or HTTP), by channel.",
            ["channel"],
            registry=registry,
        )
        self.funnel = Counter(
            FUNNEL_METRIC,
            "Marketing funnel by campaign and stage; this process counts 'sent' e-mails.",
            FUNNEL_LABELS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            CONSUMER_LAG_METRIC,
            "Records on an assigned partition not yet consumed (high watermark - position).",
            CONSUMER_LAG_LABELS,
            registry=registry,
        )
        self._lag_labels: set[tuple[str, str]] = set()
        self.last_commit = Gauge(
            f"{prefix}_last_commit_timestamp_seconds",
            "Unix time of the last offset commit (liveness: it must keep moving under load).",
            registry=registry,
        )
        self.view_waiting_for_registry = Gauge(
            f"{prefix}_view_waiting_for_schema_registry",
            "1 while the view of this topic (profiles, unsubscribes, outcomes) stopped at a "
            "record whose schema id the schema registry, not answering, must resolve: the "
            "channel's sends are held until it is read; else 0.",
            ["topic"],
            registry=registry,
        )

    def sent(self, channel: str, campaign_id: str) -> None:
        """Count a sent e-mail as the funnel's first stage (other channels are not opened)."""
        if channel in FUNNEL_CHANNELS:
            self.funnel.labels(campaign_id, "sent").inc()

    def lag(self, waiting: Mapping[tuple[str, int], int]) -> None:
        """Set the lag of each assigned (topic, partition); drop partitions no longer ours."""
        current = {
            (topic, str(partition)): records for (topic, partition), records in waiting.items()
        }
        for labels in self._lag_labels - current.keys():
            self.consumer_lag.remove(*labels)
        for labels, records in current.items():
            self.consumer_lag.labels(*labels).set(records)
        self._lag_labels = set(current)

    def committed(self) -> None:
        self.last_commit.set(time.time())

    def view_waiting(self, topic: str, waiting: bool) -> None:
        """Say whether the view of ``topic`` waits for the schema registry."""
        self.view_waiting_for_registry.labels(topic).set(1 if waiting else 0)
