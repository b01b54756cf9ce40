"""The campaign engine inside the worker: what reaches it, its decisions as outbox records.

The one place the worker's inputs are routed to the engine (``streams/campaigns``, pure):
scored activity events (:func:`decide_on_scored`, fed from what scoring returned), profile
changes, timers and erasures. A :class:`Decision` becomes ``nurture.action`` records (key =
candidate id, Avro ``nurture_action``) in the same outbox as the row that holds the decision's
new state, and its outcomes are counted. Action ids are deterministic, so a batch processed
again after a crash re-emits the same ids, which delivery drops as repeats (at-least-once
output, exactly-once effect).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.campaigns import (
    CandidateView,
    Decision,
    Engine,
    TierChange,
    candidate_view,
    event_view,
    load_campaigns,
    load_catalog,
)
from streams.campaigns.timers import TimerIndex
from streams.scoring.config import ScoringModel
from streams.worker.engagement import ScoredEvent
from streams.worker.metrics import WorkerMetrics
from streams.worker.outbox import Outbox
from streams.worker.rows import CAMPAIGNS, ENGAGEMENT, PROFILE, Row
from streams.worker.wire import WorkerCodecs, single_object_codecs


def build_engine(
    model: ScoringModel, campaigns_path: Path | None = None, catalog_path: Path | None = None
) -> Engine:
    """The engine of the campaigns and catalog (None: the shipped ones), tiers checked against
    ``model``. Raises :class:`~schemas.errors.ConfigError` when a file is invalid."""
    tiers = [tier.name for tier in model.tiers]
    return Engine(load_campaigns(campaigns_path, tiers=tiers), load_catalog(catalog_path))


def decide_on_scored(
    engine: Engine,
    candidate_id: str,
    row: Row,
    events: Sequence[ScoredEvent],
    model_version: str,
) -> list[Decision]:
    """The engine's decision on each of the candidate's scored events, in order (each sees the
    campaign state the one before left), the candidate in the tier the event left it in.

    Stores the last campaign state in ``row`` (unchanged when ``events`` is empty). Scoring
    leaves the row's profile and campaigns alone, so the decisions are those made while scoring.
    """
    cstate: dict[str, Any] | None = row.get(CAMPAIGNS)
    profile = row.get(PROFILE)
    decisions: list[Decision] = []
    for record, update in events:
        decision = engine.on_event(
            cstate,
            candidate_view(candidate_id, profile, tier=update.tier, model_version=model_version),
            event_view(record),
            tier_change=(
                TierChange(update.previous_tier, update.tier) if update.tier_changed else None
            ),
        )
        cstate = decision.state
        decisions.append(decision)
    if cstate is not None:
        row[CAMPAIGNS] = cstate
    return decisions


#: Why an enrollment ended when the candidate applied (``Decision.exited``).
APPLIED_EXIT = "goal:application_submitted"


@dataclass
class CampaignOutput:
    """The engine, and where its decisions go: ``topic`` (the full ``nurture.action`` name)."""

    engine: Engine
    topic: str
    metrics: WorkerMetrics
    #: Version of the worker's scoring model, stamped on every action.
    model_version: str
    #: Mark every action ``replay: true`` (rebuilds and shadow runs: delivery never sends them).
    replay: bool = False
    #: What the actions are encoded with (default: single-object framing, the mode off).
    codecs: WorkerCodecs = field(default_factory=single_object_codecs)
    _encode: Callable[[dict[str, Any]], bytes] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._encode = self.codecs.encode_action
        self.metrics.know_campaigns(c.id for c in self.engine.campaigns.campaigns)

    def on_scored(
        self, candidate_id: str, row: Row, events: Sequence[ScoredEvent]
    ) -> list[Decision]:
        """The decisions on the candidate's scored events (:func:`decide_on_scored`); stores
        the new campaign state in ``row``."""
        return decide_on_scored(self.engine, candidate_id, row, events, self.model_version)

    def on_profile(self, candidate_id: str, row: Row, new_row: Row) -> Decision | None:
        """The decision on ``new_row``'s profile replacing ``row``'s (None: no update time).

        Stores the new campaign state in ``new_row``."""
        profile = new_row.get(PROFILE) or {}
        updated_at = profile.get("updated_at")
        if updated_at is None:
            return None
        tier = (row.get(ENGAGEMENT) or {}).get("tier")
        old = row.get(PROFILE)
        previous = None if old is None else self._view(candidate_id, old, tier)
        decision = self.engine.on_profile_change(
            row.get(CAMPAIGNS),
            self._view(candidate_id, profile, tier),
            previous,
            at_us=int(updated_at),
        )
        new_row[CAMPAIGNS] = decision.state
        return decision

    def on_timer(self, candidate_id: str, row: Row, now_us: int) -> Decision:
        """The decision on everything of the candidate due by ``now_us``; stores the new
        campaign state in ``row``."""
        tier = (row.get(ENGAGEMENT) or {}).get("tier")
        view = self._view(candidate_id, row.get(PROFILE) or {}, tier)
        decision = self.engine.on_timer(row.get(CAMPAIGNS), view, now_us)
        row[CAMPAIGNS] = decision.state
        return decision

    def on_erasure(self, candidate_id: str, row: Row, at_us: int) -> Decision:
        """The decision that ends the candidate's enrollments and drops held actions."""
        return self.engine.on_erasure(row.get(CAMPAIGNS), candidate_id, at_us)

    @staticmethod
    def schedule(index: TimerIndex, candidate_id: str, decision: Decision) -> None:
        """Keep ``index`` in step with the decision's wake-up (cleared first, then set)."""
        for due_us in decision.timers_cleared:
            index.remove(candidate_id, due_us)
        for due_us in decision.timers_set:
            index.add(candidate_id, due_us)

    def _view(
        self, candidate_id: str, profile: Mapping[str, Any], tier: str | None
    ) -> CandidateView:
        return candidate_view(candidate_id, profile, tier=tier, model_version=self.model_version)

    def add(self, outbox: Outbox, key: bytes, decision: Decision) -> None:
        """Queue the decision's actions (keyed by ``key``, the candidate id) and count all of
        its outcomes: emitted by campaign and channel, suppressed by campaign and reason, held
        by campaign, and enrollments ended by an application (funnel stage ``applied``)."""
        encode = self._encode
        metrics = self.metrics
        for action in decision.actions:
            if self.replay:
                action["replay"] = True
            outbox.add(self.topic, key, encode(action))
            metrics.actions_emitted.labels(action["campaign_id"], action["channel"]).inc()
        for outcome in decision.suppressed:
            metrics.actions_suppressed.labels(outcome.campaign_id, outcome.reason or "").inc()
        for outcome in decision.held:
            metrics.actions_held.labels(outcome.campaign_id).inc()
        for campaign_id, why in decision.exited:
            if why == APPLIED_EXIT:  # the funnel's last stage: nurtured into an application
                metrics.funnel.labels(campaign_id, "applied").inc()
