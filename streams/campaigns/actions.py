"""Nurture action records: deterministic ids, the JSON form kept in state, the Avro form emitted.

``action_id`` is a UUIDv5 of (candidate, campaign, step, triggering event): the same decision
always gets the same id, whichever worker, replay or retry takes it, so delivery can drop
repeats. The campaign *version* is deliberately not part of it: re-deciding after a definition
change must not produce a second, different action for the same step of the same enrollment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.timestamps import from_micros
from streams.campaigns.catalog import ContentItem
from streams.campaigns.definitions import (
    AdAudienceAction,
    Campaign,
    CareerEventInviteAction,
    EmailAction,
    RecruiterAlertAction,
    Step,
    WebhookAction,
)
from streams.campaigns.view import CandidateView

#: Namespace of action ids (fixed forever: changing it changes every id).
ACTION_NAMESPACE = uuid.UUID("6f1c2a5e-3b7d-5c41-9e0a-8d2f4b6c1a37")


def action_id(candidate_id: str, campaign_id: str, step_id: str, trigger_id: str) -> str:
    """The deterministic id of one decision (a UUIDv5 string)."""
    name = "\x1f".join((candidate_id, campaign_id, step_id, trigger_id))
    return str(uuid.uuid5(ACTION_NAMESPACE, name))


def build_action(  # noqa: PLR0913, PLR0917 - every argument is part of the decision
    campaign: Campaign,
    step: Step,
    candidate: CandidateView,
    trigger_id: str,
    decided_us: int,
    content: Iterable[ContentItem],
    language: str | None,
) -> dict[str, Any]:
    """The action of ``step`` in JSON-safe form (times in epoch µs; see :func:`to_record`)."""
    action = step.action
    record: dict[str, Any] = {
        "action_id": action_id(candidate.candidate_id, campaign.id, step.id, trigger_id),
        "candidate_id": candidate.candidate_id,
        "campaign_id": campaign.id,
        "campaign_version": campaign.version,
        "step_id": step.id,
        "channel": action.channel,
        "trigger_event_id": trigger_id,
        "decided_at": decided_us,
        "not_before": None,
        "template_id": None,
        "content": [item.choice() for item in content],
        "audience": None,
        "audience_op": None,
        "endpoint": None,
        "params": {},
        "replay": False,
        "model_version": candidate.model_version,
    }
    if isinstance(action, EmailAction | CareerEventInviteAction):
        record["template_id"] = action.template
        record["params"] = {**({"language": language} if language else {}), **action.params}
    elif isinstance(action, RecruiterAlertAction):
        record["template_id"] = action.template
        record["params"] = {**({"tier": candidate.tier} if candidate.tier else {}), **action.params}
    elif isinstance(action, AdAudienceAction):
        record["audience"] = action.audience
        record["audience_op"] = action.op
    elif isinstance(action, WebhookAction):
        record["endpoint"] = action.endpoint
        record["params"] = dict(action.params)
    return record


def to_record(action: Mapping[str, Any]) -> dict[str, Any]:
    """The Avro dict of a JSON-form action: what ``codec_for("nurture_action").encode`` takes."""
    record = dict(action)
    record["decided_at"] = from_micros(action["decided_at"])
    not_before = action.get("not_before")
    record["not_before"] = None if not_before is None else from_micros(not_before)
    record["content"] = [
        {
            **choice,
            "starts_at": None if choice["starts_at"] is None else from_micros(choice["starts_at"]),
        }
        for choice in action["content"]
    ]
    record["params"] = dict(action["params"])
    return record
