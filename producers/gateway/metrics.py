"""Prometheus metrics of the HTTP gateway (served at ``GET /metrics``).

The registry is injected (tests use their own). Labels are bounded: event types of the contract
(anything else counts as ``unknown``), configured source systems, route templates (never a
path with a candidate id), status codes and fixed reasons; never an id, key or e-mail address.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.events import EVENT_TYPES
from schemas.metric_names import FUNNEL_LABELS, FUNNEL_METRIC
from schemas.tracking_tokens import REFUSALS

#: Why an event did not make it: broke the contract, Kafka did not ack in time, Kafka refused.
REJECT_REASONS = ("invalid", "unavailable", "failed")
_KNOWN_TYPES = frozenset(EVENT_TYPES)
#: The kinds of e-mail tracking link (label of the refused-token counter).
TRACKING_KINDS = ("open", "click", "unsubscribe")


def type_label(event_type: object) -> str:
    """The event type as a label value: a contract type, else ``unknown`` (bounded)."""
    return event_type if isinstance(event_type, str) and event_type in _KNOWN_TYPES else "unknown"


class GatewayMetrics:
    """The gateway's metrics: ``{prefix}_events_*`` and ``{prefix}_gateway_*``."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "nurture") -> None:
        self.registry = registry
        self._declare_events(prefix)
        self._declare_dedup_and_profiles(prefix)
        self._declare_http(prefix)
        self._declare_readiness(prefix)
        self._declare_tracking(prefix)

    def _declare_events(self, prefix: str) -> None:
        """Activity events received, acknowledged by Kafka and rejected (every reject reason
        shows from the start, at 0)."""
        self.received = Counter(
            f"{prefix}_events_received_total",
            "Activity events received by the gateway, by event type and source system.",
            ["type", "source"],
            registry=self.registry,
        )
        self.accepted = Counter(
            f"{prefix}_events_accepted_total",
            "Activity events acknowledged by Kafka (acks=all), by event type and source system.",
            ["type", "source"],
            registry=self.registry,
        )
        self.rejected = Counter(
            f"{prefix}_events_rejected_total",
            "Activity events not published, by event type, source system and reason (invalid, "
            "unavailable, failed).",
            ["type", "source", "reason"],
            registry=self.registry,
        )
        for reason in REJECT_REASONS:
            self.rejected.labels("unknown", "unknown", reason)

    def _declare_dedup_and_profiles(self, prefix: str) -> None:
        """Events dropped as duplicates and profile records acknowledged."""
        self.duplicates = Counter(
            f"{prefix}_gateway_duplicate_events_total",
            "Events whose event_id was accepted earlier within the window (not republished).",
            ["source"],
            registry=self.registry,
        )
        self.records = Counter(
            f"{prefix}_gateway_profile_records_total",
            "Profile upserts and erasure requests acknowledged by Kafka, by record kind.",
            ["record"],
            registry=self.registry,
        )

    def _declare_http(self, prefix: str) -> None:
        """HTTP requests answered and their latency, by route template."""
        self.requests = Counter(
            f"{prefix}_gateway_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{prefix}_gateway_request_duration_seconds",
            "Time from request start to response start, by route template and method.",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )

    def _declare_readiness(self, prefix: str) -> None:
        """The de-duplication window's size and whether Kafka answers."""
        self.dedup_ids = Gauge(
            f"{prefix}_gateway_dedup_ids",
            "Event ids held in the de-duplication window.",
            registry=self.registry,
        )
        self.kafka_up = Gauge(
            f"{prefix}_gateway_kafka_up",
            "1 when the last readiness probe reached Kafka, else 0.",
            registry=self.registry,
        )

    def _declare_tracking(self, prefix: str) -> None:
        """E-mail tracking links: refused tokens (every kind and reason shows from the start, at
        0) and the funnel stages the gateway counts."""
        self.tracking_refused = Counter(
            f"{prefix}_gateway_tracking_tokens_refused_total",
            "Tracking links (open, click, unsubscribe) whose token was refused, by link kind "
            "and reason (bad_signature, malformed, expired); nothing was published for them.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.funnel = Counter(
            FUNNEL_METRIC,
            "Marketing funnel by campaign and stage; this process counts 'opened' and 'clicked' "
            "(first open of an e-mail, first click of each link: repeats are duplicates).",
            FUNNEL_LABELS,
            registry=self.registry,
        )
        for kind in TRACKING_KINDS:
            for refusal in REFUSALS:
                self.tracking_refused.labels(kind, refusal)

    def count(self, counter: Counter, source: str, event_types: Iterable[object]) -> None:
        """Add one per event to ``counter`` (received or accepted), one ``inc`` per label pair."""
        for event_type, number in Tally(type_label(t) for t in event_types).items():
            counter.labels(event_type, source).inc(number)

    def count_rejected(self, source: str, rejected: Iterable[tuple[object, str]]) -> None:
        """Add one per (event type, reason) of events not published to the rejected counter."""
        tally = Tally((type_label(event_type), reason) for event_type, reason in rejected)
        for (event_type, reason), number in tally.items():
            self.rejected.labels(event_type, source, reason).inc(number)
