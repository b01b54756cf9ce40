"""Campaign actions from the worker against the real broker (streams/worker/campaigns.py).

Two workers of different app ids (memory stores) read the same topics: each takes the same
decisions, so ``nurture.action`` holds every action twice with the same deterministic id, the
one the pure engine computes from the same records. Profiles are applied (metric awaited)
before the events are published, so the consent the engine sees does not race the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for, default_codec, encode
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, PROFILE
from streams.bench.loadgen import START, publish
from streams.campaigns import (
    Engine,
    TierChange,
    candidate_view,
    event_view,
    load_campaigns,
    load_catalog,
)
from streams.scoring.config import ScoringModel, load_model
from streams.scoring.state import EngagementState, new_state
from streams.scoring.update import apply_event
from streams.worker.engagement import ActivityItem, scoring_input
from streams.worker.profile import profile_fields
from tests.kafka_helpers import read_all, unique, wait_until
from tests.worker_support import WorkerHarness, answering, metric_value

pytestmark = pytest.mark.kafka

CONSENTING, SILENT = "cand-consenting", "cand-silent"


@pytest.fixture
def harnesses(kafka: KafkaSettings, tmp_path: Path) -> Iterator[list[WorkerHarness]]:
    made = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        # The stream clock: timers follow the events' time (START), not today's date, so only
        # the steps due at the triggering event go out (tests/test_worker_timers.py: the rest).
        harness = WorkerHarness(
            kafka,
            tmp_path / name,
            unique(f"camp-{name}"),
            "memory://",
            env={"NURTURE_WORKER_CLOCK": "stream"},
        )
        made.append(harness)
    yield made
    for harness in made:
        harness.close()


def _profile(candidate_id: str, *, email_consent: bool) -> dict[str, Any]:
    consents = {"email": {"granted": True, "granted_at": START}} if email_consent else {}
    return {
        "candidate_id": candidate_id,
        "contact": {"email": f"{candidate_id}@example.com"},
        "locale": "en-GB",
        "time_zone": "UTC",
        "consents": consents,
        "updated_at": START,
        "source": "test",
    }


def _joined(candidate_id: str) -> dict[str, Any]:
    return {
        "event_id": f"{candidate_id}-joined",
        "type": "talent_pool_joined",
        "candidate_id": candidate_id,
        "occurred_at": START,  # 09:00 UTC: outside quiet hours
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": {"pool_id": "pool-1"},
    }


def _profiles_kept(port: int) -> float:
    return metric_value(port, "nurture_worker_profile_records_total", {"outcome": "profile"})


def _reference(kafka: KafkaSettings, model: ScoringModel) -> list[str]:
    """Action ids of the pure engine over the topics' records (profiles first, as published)."""
    engine = Engine(load_campaigns(tiers=[t.name for t in model.tiers]), load_catalog())
    profiles = {
        m.key.decode(): profile_fields(default_codec().decode(m.value).record)
        for m in read_all(kafka, kafka.topic(PROFILE))
    }
    decode = activity_codec().decode
    states: dict[str, EngagementState] = {}
    campaigns: dict[str, dict[str, Any] | None] = {}
    ids: list[str] = []
    messages = read_all(kafka, kafka.topic(ACTIVITY))
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        record = decode(message.value)
        cid = record["candidate_id"]
        state = states.setdefault(cid, new_state())
        item = ActivityItem(record, message.partition, message.offset)
        update = apply_event(model, state, scoring_input(item))
        if update.duplicate or update.too_late:
            continue
        decision = engine.on_event(
            campaigns.get(cid),
            candidate_view(cid, profiles.get(cid), tier=update.tier, model_version=model.version),
            event_view(record),
            tier_change=TierChange(update.previous_tier, update.tier)
            if update.tier_changed
            else None,
        )
        campaigns[cid] = decision.state
        ids.extend(action["action_id"] for action in decision.actions)
    return ids


def test_welcome_action_has_the_engine_id_and_a_second_app_repeats_it(
    kafka: KafkaSettings, harnesses: list[WorkerHarness]
) -> None:
    profiles = [
        (CONSENTING, _profile(CONSENTING, email_consent=True)),
        (SILENT, _profile(SILENT, email_consent=False)),
    ]
    publish(
        kafka,
        kafka.topic(PROFILE),
        [(cid.encode(), encode("candidate_profile", record)) for cid, record in profiles],
    )
    workers = [answering(h.worker().start(), h) for h in harnesses]
    for worker in workers:
        port = worker.port

        def kept(port: int = port) -> bool:
            return _profiles_kept(port) >= len(profiles)

        wait_until(kept, timeout_s=60, what="both profiles in the worker's rows")
    publish(
        kafka,
        kafka.topic(ACTIVITY),
        [(cid.encode(), activity_codec().encode(_joined(cid))) for cid in (CONSENTING, SILENT)],
    )
    for harness, worker in zip(harnesses, workers, strict=True):
        harness.wait_caught_up(alive=worker)

    decode = codec_for("nurture_action").decode
    expected = _reference(kafka, load_model())
    assert len(expected) == 1  # the welcome email of the consenting candidate only

    def both_published() -> list[dict[str, Any]] | None:
        actions = [decode(m.value) for m in read_all(kafka, kafka.topic(ACTION))]
        return actions if len(actions) >= 2 else None

    actions = wait_until(both_published, timeout_s=30, what="the welcome action from both workers")
    assert [a["action_id"] for a in actions] == expected * 2
    welcome = actions[0]
    assert (welcome["candidate_id"], welcome["campaign_id"], welcome["step_id"]) == (
        CONSENTING,
        "welcome-series",
        "welcome",
    )
    assert welcome["channel"] == "email"
    assert welcome["trigger_event_id"] == f"{CONSENTING}-joined"
    assert {m.key for m in read_all(kafka, kafka.topic(ACTION))} == {CONSENTING.encode()}

    for worker in workers:
        emitted = {"campaign": "welcome-series", "channel": "email"}
        suppressed = {"campaign": "welcome-series", "reason": "consent_missing"}
        assert metric_value(worker.port, "nurture_actions_emitted_total", emitted) == 1
        assert metric_value(worker.port, "nurture_actions_suppressed_total", suppressed) == 1
