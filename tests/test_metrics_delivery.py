"""The delivery consumer's computed metrics: lag per partition and the funnel's sent stage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from consumers.metrics import DeliveryMetrics


def test_lag_follows_the_assignment() -> None:
    metrics = DeliveryMetrics(CollectorRegistry())
    sample = metrics.registry.get_sample_value
    metrics.lag({("nurture.action", 0): 4, ("nurture.action", 1): 0})
    assert (
        sample("nurture_consumer_lag_records", {"topic": "nurture.action", "partition": "0"}) == 4
    )
    metrics.lag({("nurture.action", 1): 2})  # partition 0 was revoked: no stale figure stays
    assert (
        sample("nurture_consumer_lag_records", {"topic": "nurture.action", "partition": "0"})
        is None
    )
    assert (
        sample("nurture_consumer_lag_records", {"topic": "nurture.action", "partition": "1"}) == 2
    )


def test_only_e_mails_count_as_sent_in_the_funnel() -> None:
    metrics = DeliveryMetrics(CollectorRegistry())
    metrics.sent("email", "welcome-series")
    metrics.sent("career_event_invite", "welcome-series")
    metrics.sent("recruiter_alert", "hot-candidate")
    sample = metrics.registry.get_sample_value
    sent = {"campaign": "welcome-series", "stage": "sent"}
    assert sample("nurture_funnel_events_total", sent) == 2
    assert sample("nurture_funnel_events_total", {**sent, "campaign": "hot-candidate"}) is None
