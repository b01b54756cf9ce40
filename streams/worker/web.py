"""The worker's HTTP endpoints (faust web): engagement look-ups, health and metrics.

``GET /v1/candidates/{id}/engagement`` is routed by faust to the worker that owns the candidate's
partition (``app.table_route``): any worker, or `nurture score`, can be asked. While that worker
rebalances or restores its table it answers 503 with ``Retry-After`` rather than a stale row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from schemas.timestamps import from_micros
from streams.scoring.config import ScoringModel
from streams.scoring.update import engagement_record, score_at
from streams.worker.collectors import LagCollector, PopulationCollector
from streams.worker.engagement import load_state
from streams.worker.liveness import CommitWatch
from streams.worker.rows import ENGAGEMENT, load_row

ENGAGEMENT_PATH = "/v1/candidates/{candidate_id}/engagement"


def engagement_view(
    model: ScoringModel, candidate_id: str, stored: bytes | None
) -> dict[str, Any] | None:
    """The JSON body for a candidate's engagement (None when the worker has no score for it).

    The score, tier and contributions are those of the last engagement record (as of the latest
    event time); ``now`` adds the score decayed to the current wall-clock time.
    """
    row = load_row(stored)
    if not row.get(ENGAGEMENT):
        return None
    state = load_state(row)
    record = engagement_record(model, candidate_id, state)
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    score_now, contributions_now = score_at(model, state, now_us)
    body = {key: _json_value(key, value) for key, value in record.items()}
    body["now"] = {
        "at": from_micros(now_us).isoformat(),
        "score": score_now,
        "contributions": dict(contributions_now),
    }
    return body


#: Timestamp fields of an engagement record, shown as ISO 8601 (UTC).
TIMESTAMP_FIELDS = frozenset({"as_of", "last_activity_at"})


def _json_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if name in TIMESTAMP_FIELDS and type(value) is int:
        return from_micros(value).isoformat()
    return value


def register_views(
    app: Any, table: Any, model: ScoringModel, watch: CommitWatch, registry: CollectorRegistry
) -> None:
    """Add the worker's pages to the faust ``app``."""

    async def candidate_engagement(web: Any, request: Any, candidate_id: str) -> Any:
        if watch.busy():  # rebalancing or restoring: rows may be those of before, stale
            return web.json(
                {
                    "error": "restoring",
                    "message": "this worker is rebalancing or restoring its table from the "
                    "changelog; ask again shortly",
                },
                status=503,
                headers={"Retry-After": "1"},
            )
        body = engagement_view(model, candidate_id, table.get(candidate_id.encode()))
        if body is None:
            return web.json(
                {"error": "not_found", "message": f"no engagement for candidate {candidate_id!r}"},
                status=404,
            )
        return web.json(body)

    async def health(web: Any, request: Any) -> Any:
        status = watch.status()
        return web.json(status, status=200 if status["status"] == "ok" else 503)

    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    # Decorators applied as calls: faust is untyped, and mypy --strict refuses untyped decorators.
    routed = app.table_route(table=table, match_info="candidate_id")(candidate_engagement)
    app.page(ENGAGEMENT_PATH)(routed)
    app.page("/v1/health")(health)
    app.page("/metrics")(metrics)
    # Gauges read at scrape time: lag per source partition, and the candidates this worker owns.
    registry.register(LagCollector(watch.lag))

    def stored_rows() -> Any:
        return table.data.values()  # the partitions this worker owns (active, not standby)

    registry.register(PopulationCollector(stored_rows, [tier.name for tier in model.tiers]))
