"""The campaign engine: pure decisions over plain data (state in, actions and new state out).

Build one :class:`Engine` per process from the campaigns and the catalog, then call, for each
candidate, with the campaign part of its table row (``cstate``, a JSON-safe dict or None):

* :meth:`Engine.on_event` for each activity event (with the tier change the scoring model
  reported for that event, if any),
* :meth:`Engine.on_profile_change` for each new profile record,
* :meth:`Engine.on_timer` when the timer index says the candidate is due,
* :meth:`Engine.on_erasure` when the candidate is erased.

Each returns a :class:`Decision`: the actions to emit now, the held and suppressed ones with
reasons, the timer changes for the index and the new ``cstate``. Nothing here reads a clock:
decision times come from events, profile times and timer due times (see docs/campaigns.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.campaigns.actions import to_record
from streams.campaigns.catalog import ContentCatalog
from streams.campaigns.loading import CampaignSet
from streams.campaigns.run import Run, StepOutcome
from streams.campaigns.state import load
from streams.campaigns.view import CandidateView, EventView, TierChange

_PROFILE_FIELDS = ("locale", "time_zone", "interests", "job_families", "locations", "consents")


@dataclass(frozen=True, slots=True)
class Decision:
    """The result of one engine call for one candidate."""

    outcomes: tuple[StepOutcome, ...]
    #: The new campaign state: store it in the candidate's row (the input dict is untouched).
    state: dict[str, Any]
    #: Due times (epoch µs) to add to / remove from the timer index for this candidate.
    timers_set: tuple[int, ...] = ()
    timers_cleared: tuple[int, ...] = ()
    entered: tuple[str, ...] = ()
    #: (campaign id, why) of every enrollment that ended: ``completed``, ``goal:<event type>``...
    exited: tuple[tuple[str, str], ...] = ()

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Avro dicts of the actions to publish to ``nurture.action`` now, in decision order."""
        return [to_record(o.action) for o in self.outcomes if o.status == "emitted" and o.action]

    @property
    def held(self) -> list[StepOutcome]:
        """Actions waiting for quiet hours to end (released by a later :meth:`on_timer`)."""
        return [o for o in self.outcomes if o.status == "held"]

    @property
    def suppressed(self) -> list[StepOutcome]:
        """Steps a guard refused, each with its ``reason`` (count them by reason)."""
        return [o for o in self.outcomes if o.status == "suppressed"]


@dataclass(frozen=True)
class Engine:
    """The campaigns and content catalog decisions are taken with (immutable, shareable)."""

    campaigns: CampaignSet
    catalog: ContentCatalog

    def on_event(
        self,
        cstate: dict[str, Any] | None,
        candidate: CandidateView,
        event: EventView,
        *,
        tier_change: TierChange | None = None,
    ) -> Decision:
        """Decide on one activity event at its event time.

        First runs whatever of the candidate was due before the event (so the outcome does not
        depend on how timely the timer ticks were), then records the event, ends enrollments
        whose exit goal it is, enters campaigns it (or ``tier_change``) triggers and runs their
        steps due now. Skip events the scoring model reported as duplicate or too late.
        """
        run = self._run(cstate, candidate)
        at = event.occurred_at_us
        run.fire_due(at)
        state = run.state
        state.seen[event.type] = max(state.seen.get(event.type, at), at)
        if event.type == "unsubscribed":
            channel = str(event.payload.get("channel") or "email")
            state.unsub[channel] = max(state.unsub.get(channel, at), at)
        run.exit_on(event.type, at)
        for campaign in self.campaigns.triggered_by_event(event.type):
            run.enter(campaign, event.event_id, at)
        if tier_change is not None:
            for campaign in self.campaigns.tier_triggered:
                rule = campaign.trigger.tier
                if rule is None or tier_change.tier not in rule.to:
                    continue
                if not rule.from_ or tier_change.previous in rule.from_:
                    run.enter(campaign, event.event_id, at)
        run.fire_due(at)
        return _decision(run, state.wake, consumed=False)

    def on_profile_change(
        self,
        cstate: dict[str, Any] | None,
        candidate: CandidateView,
        previous: CandidateView | None,
        *,
        at_us: int,
    ) -> Decision:
        """Decide on a new profile (``candidate``) replacing ``previous`` at ``at_us``.

        ``at_us`` is the profile's ``updated_at``. A first profile (``previous`` None) is no
        change. The trigger id of entered campaigns is ``profile:<at_us>``.
        """
        run = self._run(cstate, candidate)
        run.fire_due(at_us)
        if previous is not None:
            changed = {
                name
                for name in _PROFILE_FIELDS
                if getattr(previous, name) != getattr(candidate, name)
            }
            for campaign in self.campaigns.profile_triggered:
                if changed.intersection(campaign.trigger.profile_change):
                    run.enter(campaign, f"profile:{at_us}", at_us)
            run.fire_due(at_us)
        return _decision(run, run.state.wake, consumed=False)

    def on_timer(
        self, cstate: dict[str, Any] | None, candidate: CandidateView, now_us: int
    ) -> Decision:
        """Run everything of the candidate due at or before ``now_us`` (stream or wall time).

        Each item is decided at its own due time, so a late tick changes when actions go out,
        never what they are. A stale index entry simply finds nothing due.
        """
        run = self._run(cstate, candidate)
        run.fire_due(now_us)
        wake = run.state.wake
        return _decision(run, wake, consumed=wake is not None and wake <= now_us)

    def on_erasure(self, cstate: dict[str, Any] | None, candidate_id: str, at_us: int) -> Decision:
        """Forget the candidate: end every enrollment, drop held actions (reason ``erased``).

        The returned state is empty; the worker deletes the row anyway.
        """
        run = self._run(cstate, CandidateView(candidate_id, erased=True))
        for campaign_id in sorted(run.state.active):
            run.end(campaign_id, "erased", at_us, cancel="erased")
        run.cancel_held("erased", at_us)
        wake = run.state.wake
        return Decision(
            outcomes=tuple(run.outcomes),
            state={},
            timers_cleared=() if wake is None else (wake,),
            exited=tuple(run.exited),
        )

    def _run(self, cstate: dict[str, Any] | None, candidate: CandidateView) -> Run:
        return Run(self.campaigns, self.catalog, load(cstate), candidate)


def _decision(run: Run, wake: int | None, *, consumed: bool) -> Decision:
    """Package the run, keeping one index entry at or before the earliest due item.

    The registered wake only moves earlier (a later due item is picked up when the earlier
    wake fires and finds nothing due), so a busy candidate's inactivity deadline moving with
    every event costs no index writes.
    """
    registered = None if consumed else wake
    next_due = run.next_due()
    timers_set: tuple[int, ...] = ()
    timers_cleared: tuple[int, ...] = ()
    if next_due is None:
        if registered is not None:
            timers_cleared = (registered,)
        registered = None
    elif registered is None or next_due < registered:
        if registered is not None:
            timers_cleared = (registered,)
        timers_set = (next_due,)
        registered = next_due
    run.state.wake = registered
    return Decision(
        outcomes=tuple(run.outcomes),
        state=run.state.to_dict(),
        timers_set=timers_set,
        timers_cleared=timers_cleared,
        entered=tuple(run.entered),
        exited=tuple(run.exited),
    )
