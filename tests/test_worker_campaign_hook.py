"""The campaign hook of the worker without a broker: scored events to the engine, profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.errors import ConfigError
from streams.campaigns import Decision, Engine
from streams.scoring.config import ScoringModel, load_model
from streams.worker.campaigns import CampaignOutput, build_engine, decide_on_scored
from streams.worker.engagement import ActivityItem, CandidateOutcome, score_candidate
from streams.worker.metrics import WorkerMetrics
from streams.worker.outbox import Outbox
from streams.worker.profile import with_profile
from streams.worker.rows import CAMPAIGNS, dump_row

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return load_model()


@pytest.fixture(scope="module")
def engine(model: ScoringModel) -> Engine:
    return build_engine(model)


def profile(*, email_consent: bool) -> dict[str, Any]:
    consents = {"email": {"granted": True, "granted_at": T0}} if email_consent else {}
    return {"candidate_id": "c1", "time_zone": "UTC", "consents": consents, "updated_at": T0}


def joined(n: int) -> ActivityItem:
    record = {
        "event_id": f"e{n}",
        "type": "talent_pool_joined",
        "candidate_id": "c1",
        "occurred_at": T0,
        "source": "test",
        "payload": {"pool_id": "p"},
    }
    return ActivityItem(record, partition=0, offset=n)


def scored_and_decided(
    model: ScoringModel, engine: Engine, stored: bytes | None, items: list[ActivityItem]
) -> tuple[CandidateOutcome, list[Decision]]:
    """Score the items, then route what scoring returned to the engine (as the processor)."""
    outcome = score_candidate(model, "c1", stored, items)
    return outcome, decide_on_scored(engine, "c1", outcome.row, outcome.events, model.version)


def test_applied_events_reach_the_engine_and_duplicates_do_not(
    model: ScoringModel, engine: Engine
) -> None:
    stored = dump_row(with_profile({}, profile(email_consent=True)))
    outcome, decisions = scored_and_decided(model, engine, stored, [joined(1), joined(1)])
    assert outcome.duplicates == 1
    [decision] = decisions
    [action] = decision.actions
    assert (action["campaign_id"], action["step_id"]) == ("welcome-series", "welcome")
    assert outcome.row[CAMPAIGNS] == decision.state

    again, decisions = scored_and_decided(model, engine, dump_row(outcome.row), [joined(1)])
    assert decisions == []  # a redelivered event decides nothing new
    assert again.row[CAMPAIGNS] == decision.state


def test_scoring_returns_the_events_and_leaves_campaigns_alone(model: ScoringModel) -> None:
    outcome = score_candidate(model, "c1", None, [joined(1), joined(1)])
    [(record, update)] = outcome.events  # the duplicate is not an event for campaigns
    assert record["event_id"] == "e1"
    assert outcome.record is not None
    assert update.tier == outcome.record["tier"]
    assert outcome.scored == 1
    assert CAMPAIGNS not in outcome.row


def test_outputs_and_counters(model: ScoringModel, engine: Engine) -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    output = CampaignOutput(engine, "nurture.action", metrics, model.version)
    outbox = Outbox({"nurture.action": 3})
    for consent in (True, False):
        stored = dump_row(with_profile({}, profile(email_consent=consent)))
        for decision in scored_and_decided(model, engine, stored, [joined(1)])[1]:
            output.add(outbox, b"c1", decision)
    assert len(outbox) == 1
    sample = metrics.registry.get_sample_value
    emitted = {"campaign": "welcome-series", "channel": "email"}
    suppressed = {"campaign": "welcome-series", "reason": "consent_missing"}
    assert sample("nurture_actions_emitted_total", emitted) == 1
    assert sample("nurture_actions_suppressed_total", suppressed) == 1


def test_profile_change_keeps_the_campaign_state(model: ScoringModel, engine: Engine) -> None:
    output = CampaignOutput(engine, "nurture.action", WorkerMetrics(CollectorRegistry()), "v")
    first: dict[str, Any] = {}
    row = with_profile(first, profile(email_consent=True))
    assert output.on_profile("c1", first, row) is not None
    assert CAMPAIGNS in row


def test_invalid_campaigns_are_a_config_error(model: ScoringModel, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nsteps: 3\n")
    with pytest.raises(ConfigError):
        build_engine(model, broken)
