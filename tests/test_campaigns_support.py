"""Builders shared by the campaign tests: candidates, events, campaign sets and a driver.

The :class:`Driver` does for one candidate what the worker does: keeps the campaign state and
the timer index, applies each decision's timer changes, and fires timers through the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from schemas.timestamps import to_micros
from streams.campaigns import (
    CampaignSet,
    CandidateView,
    ContentCatalog,
    Decision,
    Engine,
    EventView,
    Policy,
    StepOutcome,
    TierChange,
    TimerIndex,
    candidate_view,
    load_catalog,
)
from streams.campaigns.definitions import Campaign
from streams.campaigns.durations import DAY_US, HOUR_US, MINUTE_US

__all__ = ["DAY_US", "HOUR_US", "MINUTE_US"]

#: Monday 2025-03-03 10:00 UTC: daytime in London (10:00) and Berlin (11:00), quiet hours in
#: New York (05:00 EST).
T0 = to_micros(datetime(2025, 3, 3, 10, 0, tzinfo=UTC))


def consent(
    granted_us: int = 0, *, expires_us: int | None = None, withdrawn_us: int | None = None
) -> dict[str, Any]:
    return {
        "granted": True,
        "granted_at": granted_us,
        "expires_at": expires_us,
        "withdrawn_at": withdrawn_us,
    }


def profile(**overrides: Any) -> dict[str, Any]:
    """A worker-row profile (times in µs): London, English, Python engineer, all consents."""
    base: dict[str, Any] = {
        "locale": "en-GB",
        "time_zone": "Europe/London",
        "interests": ["python", "kafka"],
        "job_families": ["engineering"],
        "locations": ["London"],
        "consents": {"email": consent(), "events": consent(), "ads": consent()},
        "updated_at": 0,
    }
    base.update(overrides)
    return base


def view(
    candidate_id: str = "cand-1", *, tier: str | None = "warm", **profile_overrides: Any
) -> CandidateView:
    return candidate_view(
        candidate_id, profile(**profile_overrides), tier=tier, model_version="2025.1"
    )


def event(kind: str, at_us: int, event_id: str | None = None, **payload: Any) -> EventView:
    return EventView(event_id or f"{kind}-{at_us}", kind, at_us, payload)


def campaigns(*documents: str, policy: Mapping[str, Any] | None = None) -> CampaignSet:
    """A campaign set from YAML texts (validated like files are)."""
    parsed = [Campaign.model_validate(yaml.safe_load(text)) for text in documents]
    return CampaignSet(
        tuple(sorted(parsed, key=lambda c: c.id)), Policy.model_validate(policy or {})
    )


def engine(
    *documents: str,
    policy: Mapping[str, Any] | None = None,
    catalog: ContentCatalog | None = None,
) -> Engine:
    return Engine(campaigns(*documents, policy=policy), catalog or load_catalog())


#: A three-step welcome: now, after 7 days, after 14 more; exits on application.
WELCOME = """
id: welcome
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: hello
    action: {channel: email, template: hello}
  - id: digest
    wait: 7d
    action:
      channel: email
      template: digest
      content: {kinds: [blog_post], count: 2, min: 1}
  - id: invite
    wait: 14d
    action: {channel: career_event_invite, template: invite}
exit: {goals: [application_submitted, unsubscribed]}
reentry: never
"""


class Driver:
    """One candidate's campaign state and timers, driven like the worker drives them."""

    def __init__(self, engine: Engine, candidate: CandidateView) -> None:
        self.engine = engine
        self.candidate = candidate
        self.state: dict[str, Any] | None = None
        self.index = TimerIndex({})
        self.outcomes: list[StepOutcome] = []
        self.actions: list[dict[str, Any]] = []

    def event(
        self, kind: str, at_us: int, *, tier_change: TierChange | None = None, **payload: Any
    ) -> Decision:
        decision = self.engine.on_event(
            self.state, self.candidate, event(kind, at_us, **payload), tier_change=tier_change
        )
        return self._apply(decision)

    def run_until(self, now_us: int) -> None:
        """Fire every timer due before ``now_us`` through the index, as ticks would."""
        while True:
            for candidate_id in self.index.take_due(now_us):
                assert candidate_id == self.candidate.candidate_id
                self._apply(self.engine.on_timer(self.state, self.candidate, now_us))
            if not self.index.behind(now_us):
                return

    def _apply(self, decision: Decision) -> Decision:
        self.state = decision.state
        for due in decision.timers_cleared:
            self.index.remove(self.candidate.candidate_id, due)
        for due in decision.timers_set:
            self.index.add(self.candidate.candidate_id, due)
        self.outcomes.extend(decision.outcomes)
        self.actions.extend(decision.actions)
        return decision

    def steps(self, status: str | None = None) -> list[tuple[str, str, str | None]]:
        """(campaign, step, reason) of the outcomes so far, optionally of one status."""
        return [
            (o.campaign_id, o.step_id, o.reason)
            for o in self.outcomes
            if status is None or o.status == status
        ]


def test_the_shared_welcome_campaign_is_valid() -> None:
    assert [step.id for step in campaigns(WELCOME).campaigns[0].steps] == [
        "hello",
        "digest",
        "invite",
    ]
