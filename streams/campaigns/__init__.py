"""Nurture campaigns: what to send whom and when, as pure functions over plain data.

No Kafka, no faust, no clock (see docs/campaigns.md)::

    from streams.campaigns import Engine, load_campaigns, load_catalog, candidate_view, event_view

    engine = Engine(load_campaigns(), load_catalog())      # ConfigError if a file is invalid
    decision = engine.on_event(row.get("campaigns"), candidate_view(cid, row.get("profile"),
                               tier=update.tier, model_version=model.version),
                               event_view(record), tier_change=...)
    decision.actions        # Avro dicts for nurture.action
    decision.suppressed     # StepOutcome with .reason, for metrics
    decision.state          # the new row["campaigns"]
    decision.timers_set / timers_cleared   # for the TimerIndex
"""

from schemas.consent import ConsentView
from streams.campaigns.actions import action_id, to_record
from streams.campaigns.catalog import ContentCatalog, ContentItem, load_catalog
from streams.campaigns.engine import Decision, Engine
from streams.campaigns.guards import REASONS
from streams.campaigns.loading import (
    CampaignDefinitionError,
    CampaignSet,
    Problem,
    load_campaigns,
    validate_path,
)
from streams.campaigns.policy import Policy
from streams.campaigns.run import StepOutcome
from streams.campaigns.state import CampaignStateFormatError
from streams.campaigns.timers import TimerIndex
from streams.campaigns.view import (
    CandidateView,
    EventView,
    TierChange,
    candidate_view,
    event_view,
)

__all__ = [
    "REASONS",
    "CampaignDefinitionError",
    "CampaignSet",
    "CampaignStateFormatError",
    "CandidateView",
    "ConsentView",
    "ContentCatalog",
    "ContentItem",
    "Decision",
    "Engine",
    "EventView",
    "Policy",
    "Problem",
    "StepOutcome",
    "TierChange",
    "TimerIndex",
    "action_id",
    "candidate_view",
    "event_view",
    "load_campaigns",
    "load_catalog",
    "to_record",
    "validate_path",
]
