"""One engine call's working context: entering campaigns, running due steps, releasing held ones.

Everything happens at a *decision time* taken from the inputs, never from a clock: a step runs
at the time it became due (entry time plus the waits), a held action is released at the time
its quiet hours end, an inactivity trigger fires at last activity plus the inactivity period.
So the same state and inputs give the same outcomes however late a timer tick comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from streams.campaigns.actions import action_id, build_action
from streams.campaigns.catalog import ContentCatalog, ContentItem
from streams.campaigns.conditions import conditions_met
from streams.campaigns.definitions import Campaign, CareerEventInviteAction, EmailAction, Step
from streams.campaigns.guards import (
    cap_reason,
    channel_reason,
    consent_channel,
    contact_reason,
    count_send,
    quiet_release,
    uncount_send,
)
from streams.campaigns.loading import CampaignSet
from streams.campaigns.personalise import pick_content
from streams.campaigns.state import CampaignState
from streams.campaigns.view import CandidateView

Status = Literal["emitted", "held", "suppressed"]
#: Order of due items at the same instant: releases, then steps, then inactivity triggers.
_RELEASE, _STEP, _INACTIVITY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What happened to one step of one enrollment (or to a held action at its release)."""

    candidate_id: str
    campaign_id: str
    step_id: str
    status: Status
    action_id: str
    #: The decision time (epoch µs): when the step was due, or the release time.
    decided_us: int
    #: Why it was suppressed (one of ``guards.REASONS``); None otherwise.
    reason: str | None = None
    #: The action in JSON form (emitted or held); None when suppressed.
    action: dict[str, Any] | None = None
    #: When a held action will be released (quiet hours end), epoch µs.
    release_us: int | None = None


class Run:
    """Mutates ``state`` for one candidate and collects the outcomes of one engine call."""

    def __init__(
        self,
        campaigns: CampaignSet,
        catalog: ContentCatalog,
        state: CampaignState,
        candidate: CandidateView,
    ) -> None:
        self.campaigns = campaigns
        self.policy = campaigns.policy
        self.catalog = catalog
        self.state = state
        self.candidate = candidate
        self.outcomes: list[StepOutcome] = []
        self.entered: list[str] = []
        self.exited: list[tuple[str, str]] = []

    # -- time -------------------------------------------------------------------------------

    def due_items(self) -> list[tuple[int, int, str]]:
        """Everything this candidate has pending: (due time, kind, campaign id or index)."""
        items = [(entry["due"], _STEP, cid) for cid, entry in self.state.active.items()]
        items += [(held["release"], _RELEASE, str(i)) for i, held in enumerate(self.state.held)]
        for campaign in self.campaigns.inactivity_triggered:
            due = self._inactivity_due(campaign)
            if due is not None:
                items.append((due, _INACTIVITY, campaign.id))
        return items

    def next_due(self) -> int | None:
        return min((item[0] for item in self.due_items()), default=None)

    def fire_due(self, up_to_us: int) -> None:
        """Run every item due at or before ``up_to_us``, earliest first, each at its due time."""
        while True:
            due = [item for item in self.due_items() if item[0] <= up_to_us]
            if not due:
                return
            at, kind, key = min(due)
            if kind == _RELEASE:
                self._release(self.state.held.pop(int(key)), at)
            elif kind == _STEP:
                self._advance(key)
            else:
                campaign = self.campaigns.by_id[key]
                last = self.state.last_activity(self._inactivity_ignore(campaign))
                self.state.inactive[key] = last if last is not None else at
                self.enter(campaign, f"inactivity:{last}", at)

    def _inactivity_ignore(self, campaign: Campaign) -> tuple[str, ...]:
        inactivity = campaign.trigger.inactivity
        return inactivity.ignore if inactivity is not None else ()

    def _inactivity_due(self, campaign: Campaign) -> int | None:
        inactivity = campaign.trigger.inactivity
        if inactivity is None:
            return None
        last = self.state.last_activity(inactivity.ignore)
        if last is None or self.state.inactive.get(campaign.id) == last:
            return None
        return last + inactivity.after

    # -- enrollments ------------------------------------------------------------------------

    def enter(self, campaign: Campaign, trigger_id: str, at_us: int) -> bool:
        """Enroll the candidate if the re-entry policy and the conditions allow it."""
        state = self.state
        if self.candidate.erased or campaign.id in state.active:
            return False
        past = state.history.get(campaign.id)
        if past is not None and (
            campaign.reentry is None
            or past.get("trigger") == trigger_id
            or at_us < past["entered"] + campaign.reentry
        ):
            return False
        if not conditions_met(
            campaign.conditions,
            self.candidate,
            state,
            at_us,
            catalog=self.catalog,
            policy=self.policy,
        ):
            return False
        first = campaign.steps[0]
        state.active[campaign.id] = {
            "ver": campaign.version,
            "next": first.id,
            "due": at_us + first.wait,
            "trigger": trigger_id,
            "entered": at_us,
        }
        state.history[campaign.id] = {
            "entered": at_us,
            "ended": None,
            "why": None,
            "trigger": trigger_id,
        }
        self.entered.append(campaign.id)
        return True

    def exit_on(self, event_type: str, at_us: int) -> None:
        """End every enrollment whose campaign has ``event_type`` as an exit goal."""
        for campaign_id in sorted(self.state.active):
            campaign = self.campaigns.by_id.get(campaign_id)
            if campaign is not None and event_type in campaign.exit.goals:
                self.end(campaign_id, f"goal:{event_type}", at_us, cancel="exited")

    def end(self, campaign_id: str, why: str, at_us: int, *, cancel: str | None = None) -> None:
        """End an enrollment; with ``cancel`` (a reason) its held actions are dropped too."""
        self.state.active.pop(campaign_id, None)
        record = self.state.history.setdefault(campaign_id, {"entered": at_us})
        record.update(ended=at_us, why=why)
        self.exited.append((campaign_id, why))
        if cancel is not None:
            self.cancel_held(cancel, at_us, campaign_id=campaign_id)

    def cancel_held(self, reason: str, at_us: int, *, campaign_id: str | None = None) -> None:
        """Drop held actions (of ``campaign_id``, or all) as suppressed for ``reason``."""
        kept = []
        for held in self.state.held:
            if campaign_id is not None and held["campaign"] != campaign_id:
                kept.append(held)
                continue
            uncount_send(self.state, held["action"]["action_id"])
            self._outcome(held["action"], "suppressed", at_us, reason=reason)
        self.state.held = kept

    def _advance(self, campaign_id: str) -> None:
        entry = self.state.active[campaign_id]
        at = entry["due"]
        campaign = self.campaigns.by_id.get(campaign_id)
        index = campaign.step_index(entry["next"]) if campaign is not None else None
        if campaign is None or index is None:
            why = "campaign_removed" if campaign is None else "step_removed"
            self.end(campaign_id, why, at, cancel=None)
            return
        self.run_step(campaign, campaign.steps[index], entry["trigger"], at)
        if index + 1 < len(campaign.steps):
            following = campaign.steps[index + 1]
            entry.update(next=following.id, due=at + following.wait, ver=campaign.version)
        else:
            self.end(campaign_id, "completed", at)

    # -- steps ------------------------------------------------------------------------------

    def run_step(self, campaign: Campaign, step: Step, trigger_id: str, at_us: int) -> None:
        """Apply the guards to ``step`` at ``at_us`` and emit, hold or suppress its action."""
        candidate, policy, state = self.candidate, self.policy, self.state
        action_key = action_id(candidate.candidate_id, campaign.id, step.id, trigger_id)
        reason = contact_reason(policy, step, candidate, state, at_us)
        content: list[ContentItem] = []
        spec = (
            step.action.content
            if isinstance(step.action, EmailAction | CareerEventInviteAction)
            else None
        )
        if reason is None and spec is not None:
            content = pick_content(
                self.catalog,
                spec,
                candidate,
                sent=set(state.content),
                at_us=at_us,
                fallback_language=policy.fallback_language,
            )
            reason = "no_content" if len(content) < spec.min else None
        release = quiet_release(policy, step.action.channel, at_us, candidate.time_zone)
        send_at = at_us if release is None else release
        if reason is None:
            reason = cap_reason(policy, step, state, send_at, candidate.time_zone)
        if reason is not None:
            self.outcomes.append(
                StepOutcome(
                    candidate.candidate_id,
                    campaign.id,
                    step.id,
                    "suppressed",
                    action_key,
                    at_us,
                    reason,
                )
            )
            return
        language = candidate.language or policy.fallback_language
        action = build_action(campaign, step, candidate, trigger_id, at_us, content, language)
        state.content.extend(item.content_id for item in content)
        del state.content[: max(len(state.content) - policy.remembered_content, 0)]
        count_send(policy, step, state, send_at, action_key)
        if release is None:
            self._outcome(action, "emitted", at_us)
            return
        action["not_before"] = release
        state.held.append(
            {
                "release": release,
                "campaign": campaign.id,
                "step": step.id,
                "consent": consent_channel(policy, step),
                "action": action,
            }
        )
        state.held.sort(key=lambda held: (held["release"], held["action"]["action_id"]))
        self._outcome(action, "held", at_us, release_us=release)

    def _release(self, held: dict[str, Any], at_us: int) -> None:
        """A held action's quiet hours ended: emit it unless contact is no longer allowed."""
        reason = channel_reason(held["consent"], self.candidate, self.state, at_us)
        if reason is not None:
            uncount_send(self.state, held["action"]["action_id"])
            self._outcome(held["action"], "suppressed", at_us, reason=reason)
            return
        self._outcome(held["action"], "emitted", at_us)

    def _outcome(
        self,
        action: dict[str, Any],
        status: Status,
        at_us: int,
        *,
        reason: str | None = None,
        release_us: int | None = None,
    ) -> None:
        self.outcomes.append(
            StepOutcome(
                self.candidate.candidate_id,
                action["campaign_id"],
                action["step_id"],
                status,
                action["action_id"],
                at_us,
                reason,
                None if status == "suppressed" else action,
                release_us,
            )
        )
