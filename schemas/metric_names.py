"""Names and labels of the metrics that more than one process writes, declared once.

Each process keeps its own collectors (one metrics module per process, the registry injected);
a metric several of them count takes its name and labels from here, so that the dashboards and
alert rules (``deploy/grafana``, ``deploy/prometheus``) sum one series across processes.
"""

from __future__ import annotations

from typing import Final, Literal

#: The marketing funnel by campaign and stage: delivery counts ``sent``, the gateway ``opened``
#: and ``clicked``, the worker ``applied`` (all with the campaign id as ``campaign``).
FUNNEL_METRIC: Final = "nurture_funnel_events_total"
FUNNEL_LABELS: Final = ("campaign", "stage")
FunnelStage = Literal["sent", "opened", "clicked", "applied"]

#: Records on an assigned partition not yet consumed (delivery) or committed (worker), by
#: ``topic`` and ``partition``: the consumer lag of every consumer group.
CONSUMER_LAG_METRIC: Final = "nurture_consumer_lag_records"
CONSUMER_LAG_LABELS: Final = ("topic", "partition")
