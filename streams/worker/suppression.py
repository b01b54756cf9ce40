"""The candidate's unsubscribes as a ``candidate.suppression`` record, when a batch changed them.

The campaign engine keeps the channels a candidate unsubscribed from in its state
(``row["campaigns"]["unsub"]``: channel or ``all`` -> event time in µs) and stops deciding for
them. Actions decided *before* an unsubscribe may still wait in delivery (quiet hours, retries),
so the worker also publishes the whole map, keyed by candidate id, to the compacted
``candidate.suppression`` topic, which delivery checks at send time (docs/delivery.md).

Pure functions over rows: no Kafka, no clock. The record holds event times only, so a replay
gives identical records; it holds no PII.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.worker.engagement import ActivityItem
from streams.worker.rows import CAMPAIGNS, Row, load_row

SUBJECT = "candidate_suppression"
UNSUBSCRIBED = "unsubscribed"


def unsubscribes(row: Row) -> dict[str, int]:
    """The row's unsubscribes: channel (or ``all``) -> when, epoch µs (empty: none)."""
    campaigns = row.get(CAMPAIGNS) or {}
    return dict(campaigns.get("unsub") or {})


def suppression_record(
    candidate_id: str, before: Mapping[str, int], after: Mapping[str, int]
) -> dict[str, Any] | None:
    """The ``candidate_suppression`` record (Avro dict) when ``after`` differs from ``before``
    and is not empty; None when there is nothing new to publish."""
    if not after or dict(after) == dict(before):
        return None
    return {
        "candidate_id": candidate_id,
        "unsubscribed": dict(after),
        "updated_at": max(after.values()),
    }


def changed_suppression(
    candidate_id: str, items: Iterable[ActivityItem], stored: bytes | None, row: Row
) -> dict[str, Any] | None:
    """The record to publish after a batch turned the stored row into ``row``, or None.

    Only a batch with an ``unsubscribed`` event can change the map, so the stored row is read
    again only then (rare: the hot path stays untouched)."""
    if not any(item.record["type"] == UNSUBSCRIBED for item in items):
        return None
    return suppression_record(candidate_id, unsubscribes(load_row(stored)), unsubscribes(row))
