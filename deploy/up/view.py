"""What the live view of `nurture up` shows, computed from the children's ``/metrics``.

:func:`scrape` reads one child's ``GET /metrics`` into samples; :func:`view_rows` is a pure
function from two consecutive snapshots of all children's samples to the rows of the view
(rates need the previous snapshot), so it is tested without processes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from schemas.metric_names import CONSUMER_LAG_METRIC


@dataclass(frozen=True)
class Snapshot:
    """The samples of every child scraped at ``at`` (monotonic seconds)."""

    at: float
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Row:
    """One line of the view: a section (e.g. ``deliveries``), what is counted, its value."""

    section: str
    item: str
    value: str


def scrape(url: str, timeout_s: float = 1.0) -> list[Sample]:
    """The samples at ``url`` (a Prometheus text endpoint); empty when it does not answer."""
    try:
        response = httpx.get(url, timeout=timeout_s)
        response.raise_for_status()
    except httpx.HTTPError:
        return []
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def _total(samples: Iterable[Sample], name: str) -> float:
    return sum(s.value for s in samples if s.name == name)


def _by(samples: Iterable[Sample], name: str, *labels: str) -> dict[str, float]:
    """Sum of ``name`` per value of ``labels`` (joined with ``/``), sorted by label."""
    sums: defaultdict[str, float] = defaultdict(float)
    for s in samples:
        if s.name == name:
            sums["/".join(s.labels.get(label, "") or "-" for label in labels)] += s.value
    return dict(sorted(sums.items()))


def _rate(current: Snapshot, previous: Snapshot | None, name: str) -> str:
    if previous is None or current.at <= previous.at:
        return "-"
    delta = _total(current.samples, name) - _total(previous.samples, name)
    # A restarted child starts its counters at 0: show no rate rather than a negative one.
    return "-" if delta < 0 else f"{delta / (current.at - previous.at):,.1f}"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _section(section: str, values: Mapping[str, float], empty: str = "none yet") -> list[Row]:
    if not values:
        return [Row(section, empty, "")]
    return [Row(section, item, _count(value)) for item, value in values.items()]


def view_rows(current: Snapshot, previous: Snapshot | None) -> list[Row]:
    """The rows of the live view (the metric names are those of docs/observability.md)."""
    samples = current.samples
    lag = _by(samples, CONSUMER_LAG_METRIC, "topic")
    dead_letters = _by(samples, "nurture_worker_dead_letters_total", "topic", "reason")
    delivery_dead = {
        f"delivery {channel}": value
        for channel, value in _by(
            [s for s in samples if s.labels.get("outcome") == "dead_lettered"],
            "nurture_delivery_outcomes_total",
            "channel",
        ).items()
    }
    return [
        Row(
            "events/s",
            "in (gateway accepted)",
            _rate(current, previous, "nurture_events_accepted_total"),
        ),
        Row(
            "events/s",
            "processed (worker)",
            _rate(current, previous, "nurture_worker_events_total"),
        ),
        *_section("consumer lag (records)", lag, "no partitions assigned"),
        *_section("candidates per tier", _by(samples, "nurture_engagement_candidates", "tier")),
        *_section(
            "actions emitted", _by(samples, "nurture_actions_emitted_total", "campaign", "channel")
        ),
        *_section("actions suppressed", _by(samples, "nurture_actions_suppressed_total", "reason")),
        *_section(
            "actions held (quiet hours)", _by(samples, "nurture_actions_held_total", "campaign")
        ),
        *_section(
            "deliveries", _by(samples, "nurture_delivery_outcomes_total", "channel", "outcome")
        ),
        *_section("dead letters", {**dead_letters, **delivery_dead}),
    ]


def snapshot(at: float, urls: Sequence[str], timeout_s: float = 1.0) -> Snapshot:
    """Scrape every URL (children that do not answer contribute nothing)."""
    return Snapshot(at, tuple(s for url in urls for s in scrape(url, timeout_s)))
