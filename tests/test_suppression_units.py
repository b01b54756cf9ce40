"""Unsubscribes stop actions already decided: the pure parts (no broker).

The worker's helper (streams/worker/suppression.py) and its use by the processors (a record
when an applied ``unsubscribed`` event changes the candidate's unsubscribes, a tombstone on
erasure), and delivery's send-time check (consumers/suppression.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers.profiles import ERASED
from consumers.suppression import send_refusal, unsubscribe_refusal
from producers.records import RecordEncoder
from schemas.codec import codec_for, encode
from schemas.models import CandidateProfile, NurtureAction
from schemas.timestamps import to_micros
from schemas.topics import SUPPRESSION
from streams.campaigns.guards import channel_reason
from streams.campaigns.state import CampaignState
from streams.campaigns.view import CandidateView
from streams.replay.processing import ReplayMessage
from streams.scoring.config import load_model
from streams.worker.campaigns import CampaignOutput, build_engine
from streams.worker.engagement import ActivityItem
from streams.worker.metrics import WorkerMetrics
from streams.worker.outputs import Outputs
from streams.worker.processor import ActivityProcessor, ProfileProcessor
from streams.worker.rows import CAMPAIGNS, dump_row
from streams.worker.suppression import (
    changed_suppression,
    suppression_record,
    unsubscribes,
)
from streams.worker.wire import single_object_codecs

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T1 = to_micros(NOW - timedelta(hours=2))
T2 = to_micros(NOW - timedelta(hours=1))


# --- the worker's pure helper ---------------------------------------------------------------


def _item(kind: str) -> ActivityItem:
    return ActivityItem({"type": kind}, 0, 0)


def _row(unsub: dict[str, int] | None) -> dict[str, Any]:
    return {} if unsub is None else {CAMPAIGNS: {"unsub": unsub}}


def test_a_record_only_when_the_unsubscribes_changed() -> None:
    assert suppression_record("c1", {}, {}) is None
    assert suppression_record("c1", {"email": T1}, {"email": T1}) is None
    record = suppression_record("c1", {"email": T1}, {"email": T1, "all": T2})
    assert record == {
        "candidate_id": "c1",
        "unsubscribed": {"email": T1, "all": T2},
        "updated_at": T2,
    }
    assert unsubscribes(_row(None)) == {} and unsubscribes({CAMPAIGNS: None}) == {}
    assert unsubscribes(_row({"email": T1})) == {"email": T1}


def test_only_a_batch_with_an_unsubscribe_reads_the_stored_row_again() -> None:
    stored = dump_row(_row({"email": T1}))
    after = _row({"email": T1, "events": T2})
    # The map changed (e.g. a bug elsewhere) but no unsubscribe in the batch: nothing published.
    assert changed_suppression("c1", [_item("page_viewed")], stored, after) is None
    found = changed_suppression("c1", [_item("page_viewed"), _item("unsubscribed")], stored, after)
    assert found is not None and found["unsubscribed"] == {"email": T1, "events": T2}
    assert changed_suppression("c1", [_item("unsubscribed")], None, after) is not None
    # A repeated unsubscribe (same or older time) changes nothing: no record.
    assert changed_suppression("c1", [_item("unsubscribed")], stored, _row({"email": T1})) is None


def test_the_record_fits_the_schema_and_round_trips() -> None:
    record = suppression_record("c1", {}, {"email": T1, "all": T2})
    assert record is not None
    decoded = codec_for("candidate_suppression").decode(
        single_object_codecs().encode_suppression(record)  # the worker's encoder, mode off
    )
    assert decoded["candidate_id"] == "c1"
    assert {k: to_micros(v) for k, v in decoded["unsubscribed"].items()} == {"email": T1, "all": T2}
    assert to_micros(decoded["updated_at"]) == T2


# --- the processors -------------------------------------------------------------------------


@dataclass
class _Table:
    """Stands in for the faust table: ``data`` is the local store."""

    data: dict[bytes, bytes] = field(default_factory=dict)


def _processors() -> tuple[ActivityProcessor, ProfileProcessor]:
    model = load_model()
    metrics = WorkerMetrics(CollectorRegistry())
    topics = ("changelog", "candidate.engagement", "nurture.action", SUPPRESSION, "dlq")
    outputs = Outputs(
        table=_Table(),
        changelog="changelog",
        engagement="candidate.engagement",
        dlq={"candidate.activity": "dlq", "candidate.profile": "dlq"},
        partitions=dict.fromkeys(topics, 1),
        metrics=metrics,
        suppression=SUPPRESSION,
    )
    campaigns = CampaignOutput(build_engine(model), "nurture.action", metrics, model.version)
    return ActivityProcessor(model, outputs, campaigns), ProfileProcessor(outputs, campaigns)


def _event(n: int, kind: str, payload: dict[str, Any], at: datetime) -> ReplayMessage:
    encoded = RecordEncoder().event(
        {
            "event_id": f"evt-{n}",
            "type": kind,
            "candidate_id": "cand-1",
            "occurred_at": at.isoformat(),
            "source": "esp",
            "payload": payload,
        }
    )
    return ReplayMessage("candidate.activity", 0, n, encoded.key, encoded.value, [], 0)


def _suppressions(step: Any) -> list[tuple[bytes | None, bytes | None]]:
    return [(key, value) for key, value, _ in step.outbox.records.get((SUPPRESSION, 0), [])]


def test_the_worker_publishes_changed_unsubscribes_and_a_tombstone_on_erasure() -> None:
    activity, profiles = _processors()
    page = {"url": "https://careers.example.com/jobs/1", "page_type": "job"}
    at = NOW - timedelta(days=1)
    assert _suppressions(activity.process([_event(1, "page_viewed", page, at)])) == []
    step = activity.process([_event(2, "unsubscribed", {"channel": "email"}, at)])
    ((key, value),) = _suppressions(step)
    assert key == b"cand-1" and value is not None
    record = codec_for("candidate_suppression").decode(value)
    assert record["unsubscribed"] == {"email": at} and record["updated_at"] == at
    # The same event again (a duplicate) and an older unsubscribe change nothing.
    older = _event(3, "unsubscribed", {"channel": "email"}, at - timedelta(hours=1))
    again = _event(2, "unsubscribed", {"channel": "email"}, at)
    assert _suppressions(activity.process([again])) == []
    assert _suppressions(activity.process([older])) == []
    later = at + timedelta(hours=1)
    step = activity.process([_event(4, "unsubscribed", {"channel": "all"}, later)])
    ((_, value),) = _suppressions(step)
    assert value is not None
    assert codec_for("candidate_suppression").decode(value)["unsubscribed"] == {
        "email": at,
        "all": later,
    }
    erasure = {
        "request_id": "erase-1",
        "candidate_id": "cand-1",
        "requested_at": NOW,
        "source": "privacy-portal",
        "reason": None,
    }
    message = ReplayMessage(
        "candidate.profile", 0, 1, b"cand-1", encode("erasure_request", erasure), [], 0
    )
    assert _suppressions(profiles.process([message])) == [(b"cand-1", None)]


# --- delivery's send-time check ---------------------------------------------------------------


def _profile(**consents: dict[str, Any]) -> CandidateProfile:
    granted = {"granted": True, "granted_at": NOW - timedelta(days=30)}
    return CandidateProfile.model_validate(
        {
            "candidate_id": "cand-1",
            "contact": {"email": "cand-1@example.org"},
            "consents": {"email": granted, "events": granted, "ads": granted, **consents},
            "updated_at": NOW - timedelta(days=30),
            "source": "test",
        }
    )


def _action(channel: str, **extra: Any) -> NurtureAction:
    fields: dict[str, Any] = {
        "action_id": "act-1",
        "candidate_id": "cand-1",
        "campaign_id": "welcome-series",
        "campaign_version": 1,
        "step_id": "welcome",
        "channel": channel,
        "trigger_event_id": "evt-1",
        "decided_at": NOW - timedelta(days=1),
        "model_version": "m1",
        **extra,
    }
    if channel == "webhook":
        fields["endpoint"] = "crm"
    if channel == "email":
        fields["template_id"] = "welcome-talent-pool"
    if channel == "ad_audience":
        fields.setdefault("audience", "talent")
        fields.setdefault("audience_op", "add")
    return NurtureAction.model_validate(fields)


HOUR_AGO = NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("channel", "extra", "unsubscribed", "expected"),
    [
        ("email", {}, {"email": HOUR_AGO}, "unsubscribed"),
        ("email", {}, {"all": HOUR_AGO}, "unsubscribed"),
        ("email", {}, {"events": HOUR_AGO}, None),  # another channel
        ("email", {}, {"email": NOW}, "unsubscribed"),  # at now counts
        ("email", {}, {"email": NOW + timedelta(seconds=1)}, None),  # not yet
        ("email", {}, {}, None),
        ("career_event_invite", {}, {"events": HOUR_AGO}, "unsubscribed"),
        ("career_event_invite", {}, {"email": HOUR_AGO}, None),
        ("ad_audience", {}, {"ads": HOUR_AGO}, "unsubscribed"),
        ("ad_audience", {"audience_op": "remove"}, {"all": HOUR_AGO}, None),  # removals go out
        ("recruiter_alert", {}, {"all": HOUR_AGO}, None),  # no consent channel
        ("webhook", {}, {"all": HOUR_AGO}, None),
    ],
)
def test_unsubscribes_refuse_the_actions_of_their_consent_channel(
    channel: str, extra: dict[str, Any], unsubscribed: dict[str, datetime], expected: str | None
) -> None:
    assert unsubscribe_refusal(_action(channel, **extra), _profile(), unsubscribed, NOW) == expected


def test_a_consent_granted_after_the_unsubscribe_is_a_new_opt_in() -> None:
    again = {"granted": True, "granted_at": HOUR_AGO + timedelta(minutes=1)}
    assert (
        unsubscribe_refusal(_action("email"), _profile(email=again), {"email": HOUR_AGO}, NOW)
        is None
    )
    # ... but not one granted before it, nor a new opt-in for another channel against `all`.
    before = {"granted": True, "granted_at": HOUR_AGO - timedelta(minutes=1)}
    refused = unsubscribe_refusal(
        _action("email"), _profile(email=before), {"email": HOUR_AGO}, NOW
    )
    assert refused == "unsubscribed"


def test_send_refusal_checks_profile_unsubscribes_then_consent() -> None:
    email, unsub = _action("email"), {"email": HOUR_AGO}
    assert send_refusal(email, None, unsub, NOW) == "no_profile"
    assert send_refusal(email, ERASED, unsub, NOW) == "erased"
    withdrawn = {"granted": True, "granted_at": NOW - timedelta(days=30), "withdrawn_at": HOUR_AGO}
    assert send_refusal(email, _profile(email=withdrawn), unsub, NOW) == "unsubscribed"
    assert send_refusal(email, _profile(email=withdrawn), {}, NOW) == "consent_withdrawn"
    assert send_refusal(email, _profile(), {}, NOW) is None


@pytest.mark.parametrize(
    "consent",
    [
        None,
        {"granted": True, "granted_at": HOUR_AGO - timedelta(minutes=1)},  # before: no opt-in
        {"granted": False, "granted_at": HOUR_AGO + timedelta(minutes=1)},  # grants nothing
        {"granted": True, "granted_at": HOUR_AGO + timedelta(minutes=1)},  # a new opt-in
        {"granted": True, "granted_at": HOUR_AGO},  # at the same moment: not after it
    ],
)
def test_the_campaign_engine_and_delivery_apply_one_unsubscribe_rule(
    consent: dict[str, Any] | None,
) -> None:
    # Both sides ask schemas.consent.unsubscribe_applies: a consent record after the
    # unsubscribe that grants nothing used to lift it in the engine (which then said
    # consent_missing) but not in delivery (unsubscribed).
    profile = _profile() if consent is None else _profile(email=consent)
    delivery = unsubscribe_refusal(_action("email"), profile, {"email": HOUR_AGO}, NOW)
    views = {} if consent is None else {"email": profile.consents["email"].view()}
    state = CampaignState(unsub={"email": to_micros(HOUR_AGO)})
    engine = channel_reason("email", CandidateView("cand-1", consents=views), state, to_micros(NOW))
    lifted = consent is not None and consent["granted"] and consent["granted_at"] > HOUR_AGO
    assert delivery == (None if lifted else "unsubscribed")
    assert engine == (None if lifted else "unsubscribed")
