"""The gateway's event counters: by type, source and reason, with bounded labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from producers.gateway.metrics import REJECT_REASONS, GatewayMetrics, type_label


def test_rejected_events_count_by_type_source_and_reason() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    metrics.count_rejected(
        "ats",
        [
            ("page_viewed", "invalid"),
            ("page_viewed", "invalid"),
            ("made-up-type", "invalid"),  # not a type of the contract
            (None, "invalid"),  # the body was not even an object
            ("email_opened", "unavailable"),
        ],
    )
    sample = metrics.registry.get_sample_value
    name = "nurture_events_rejected_total"
    ats = {"source": "ats"}
    assert sample(name, {**ats, "type": "page_viewed", "reason": "invalid"}) == 2
    assert sample(name, {**ats, "type": "unknown", "reason": "invalid"}) == 2
    assert sample(name, {**ats, "type": "email_opened", "reason": "unavailable"}) == 1
    assert sample(name, {**ats, "type": "made-up-type", "reason": "invalid"}) is None


def test_every_reject_reason_is_exposed_from_the_start() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    for reason in REJECT_REASONS:
        labels = {"type": "unknown", "source": "unknown", "reason": reason}
        assert metrics.registry.get_sample_value("nurture_events_rejected_total", labels) == 0


def test_received_and_accepted_map_unknown_types_to_one_label() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    metrics.count(metrics.received, "crm", ["page_viewed", "x" * 200, 42, None])
    sample = metrics.registry.get_sample_value
    received = "nurture_events_received_total"
    assert sample(received, {"type": "page_viewed", "source": "crm"}) == 1
    assert sample(received, {"type": "unknown", "source": "crm"}) == 3
    assert type_label("application_submitted") == "application_submitted"
