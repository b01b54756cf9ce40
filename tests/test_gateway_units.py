"""The gateway's pure parts without a broker: limits, keys, buckets, the window, ingest logic."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError as SettingsError

from producers.delivery import PublishTimeoutError
from producers.gateway.auth import ApiKeyAuth, Caller
from producers.gateway.cloud_events import Rejection, attribute_of, from_binary
from producers.gateway.dedup import AcceptedIds
from producers.gateway.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
)
from producers.gateway.ingest import EventIngest, IngestParts, normalize
from producers.gateway.limits import Limits, body_kind, split_events
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.publisher import AckTimeoutError, LateOutcome, OutgoingRecord
from producers.gateway.ratelimit import RateLimiter, TokenBucket
from producers.gateway.settings import GatewaySettings, parse_api_keys, parse_rate_limits
from producers.records import RecordEncoder
from schemas.errors import ConfigError, KafkaUnavailableError, NurtureError
from tests.test_gateway_support import KEYS, event, gateway_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- settings and keys -----------------------------------------------------------------------


def test_keys_come_from_the_variable_and_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# rotated in March\nats = ats-key-from-file-0001\n\n")
    monkeypatch.setenv(
        "NURTURE_GATEWAY_API_KEYS", "career-site=site-key-0123456789,esp=esp-key-0123456789"
    )
    monkeypatch.setenv("NURTURE_GATEWAY_API_KEYS_FILE", str(keys_file))
    settings = GatewaySettings()
    keys = settings.all_api_keys()
    assert [k.source for k in keys] == ["career-site", "esp", "ats"]
    assert "site-key" not in repr(settings) and "site-key" not in str(keys)
    auth = ApiKeyAuth(keys)
    assert auth.source_of("Bearer ats-key-from-file-0001") == "ats"
    assert auth.source_of("bearer site-key-0123456789") == "career-site"


@pytest.mark.parametrize(
    "value", ["career-site", "=key-0123456789abcdef", "Career Site=key-0123456789abcdef", "a=short"]
)
def test_malformed_keys_fail_at_start_up_without_echoing_the_key(value: str) -> None:
    with pytest.raises((ConfigError, SettingsError)) as caught:
        GatewaySettings(api_keys=value)
    assert "0123456789abcdef" not in str(caught.value)


def test_a_burst_smaller_than_a_batch_is_refused() -> None:
    with pytest.raises(SettingsError, match="rate_limit_burst"):
        gateway_settings(rate_limit_burst=10, max_batch_events=500)


def test_unknown_and_missing_keys_are_refused() -> None:
    auth = ApiKeyAuth(gateway_settings().all_api_keys())
    assert auth.sources == frozenset(KEYS)
    for header in (None, "", "Bearer", f"Basic {KEYS['ats']}", "Bearer " + KEYS["ats"][:-1]):
        with pytest.raises(UnauthenticatedError):
            auth.source_of(header)


# --- rate limit ------------------------------------------------------------------------------


def test_bucket_refuses_then_refills_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(lambda source: (10, 100), clock=clock)
    ats, career_site = Caller("ats", "ats#1"), Caller("career-site", "career-site#1")
    limiter.charge(ats, 100)
    with pytest.raises(RateLimitedError) as caught:
        limiter.charge(ats, 25)
    assert caught.value.retry_after_s == 3  # 25 tokens at 10/s
    assert caught.value.headers() == {"Retry-After": "3"}
    limiter.charge(career_site, 100)  # another key has its own bucket
    clock.now += 2.5
    limiter.charge(ats, 25)


def test_each_key_has_its_own_bucket_sized_by_its_source() -> None:
    settings = gateway_settings(rate_limits="ats=1/500", max_batch_events=100)
    limiter = RateLimiter(settings.rate_limit_of, clock=Clock())
    old_key, new_key = Caller("ats", "ats#1"), Caller("ats", "ats#2")
    limiter.charge(old_key, 500)
    limiter.charge(new_key, 500)  # a second key of the source (rotation) is not starved
    with pytest.raises(RateLimitedError) as caught:
        limiter.charge(old_key, 2)
    assert caught.value.retry_after_s == 2  # ats: 1 event/s
    limiter.charge(Caller("career-site", "career-site#1"), 10_000)  # the default: 10,000 burst


def test_keys_get_ids_by_source_and_order_never_the_key() -> None:
    keys = [*gateway_settings().all_api_keys(), *parse_api_keys("ats=" + "r" * 20, where="t")]
    auth = ApiKeyAuth(keys)
    assert auth.identify("Bearer " + "r" * 20) == Caller("ats", "ats#2")
    assert auth.identify(f"Bearer {KEYS['ats']}") == Caller("ats", "ats#1")


def test_rate_limits_parse_per_source_and_refuse_nonsense() -> None:
    settings = gateway_settings(rate_limits="ats=200, career-site=5000/20000")
    assert settings.rate_limit_of("ats") == (200, 1000)  # 5 s worth
    assert settings.rate_limit_of("career-site") == (5000, 20_000)
    assert settings.rate_limit_of("crm") == (2000, 10_000)  # the defaults
    for bad in ("ats", "ats=0", "ats=fast", "=10", "ats=10/x"):
        with pytest.raises(ConfigError, match="EVENTS_PER_S"):
            parse_rate_limits(bad, where="t")
    with pytest.raises(SettingsError, match="the burst of ats"):
        gateway_settings(rate_limits="ats=10/20", max_batch_events=500)


@given(st.lists(st.tuples(st.integers(1, 50), st.floats(0, 5)), max_size=40))
def test_a_bucket_never_grants_more_than_burst_plus_refill(steps: list[tuple[int, float]]) -> None:
    bucket = TokenBucket(rate_per_s=10, burst=50, now=0.0)
    now = granted = 0.0
    for cost, wait in steps:
        now += wait
        if bucket.take(cost, now) == 0:
            granted += cost
    assert granted <= 50 + 10 * now + 1e-6


# --- de-duplication window -------------------------------------------------------------------


def test_ids_are_remembered_for_the_window_then_forgotten() -> None:
    clock = Clock()
    seen = AcceptedIds(window_s=60, max_ids=10, clock=clock)

    async def scenario() -> None:
        seen.reserve("e1")
        assert seen.pending("e1") is not None and not seen.is_accepted("e1")
        seen.settle("e1", accepted=True)
        seen.reserve("e2")
        seen.settle("e2", accepted=False)

    asyncio.run(scenario())
    assert seen.is_accepted("e1") and not seen.is_accepted("e2")
    assert seen.pending("e1") is None
    clock.now += 61
    assert not seen.is_accepted("e1")


def test_the_oldest_ids_go_first_beyond_max_ids() -> None:
    seen = AcceptedIds(window_s=60, max_ids=3, clock=Clock())

    async def scenario() -> None:
        for number in range(5):
            seen.reserve(f"e{number}")
            seen.settle(f"e{number}", accepted=True)

    asyncio.run(scenario())
    assert [seen.is_accepted(f"e{n}") for n in range(5)] == [False, False, True, True, True]
    assert len(seen) == 3 and seen.evicted_early == 2


# --- body limits and CloudEvents mapping -------------------------------------------------------

LIMITS = Limits(max_event_bytes=200, max_batch_bytes=1000, max_batch_events=3)


def test_content_types_pick_the_body_kind() -> None:
    assert body_kind("application/json; charset=utf-8", False) == "envelope"
    assert body_kind("application/json", True) == "ce-binary"
    assert body_kind("application/cloudevents+json", False) == "ce-structured"
    assert body_kind("Application/CloudEvents-Batch+JSON", False) == "ce-batch"
    for refused in ("", "text/plain", "application/xml", "application/json; charset=utf-16"):
        with pytest.raises(UnsupportedMediaTypeError):
            body_kind(refused, False)


def test_batch_shapes_and_limits() -> None:
    assert split_events({"a": 1}, "envelope", 50, LIMITS) == [{"a": 1}]
    assert split_events({"events": [1, {}]}, "envelope", 50, LIMITS) == [1, {}]
    assert split_events([{}], "ce-batch", 50, LIMITS) == [{}]
    malformed: list[Any] = [[{}], "x", {"events": []}, {"events": [{}], "extra": 1}]
    for value in malformed:
        with pytest.raises(MalformedRequestError):
            split_events(value, "envelope", 50, LIMITS)
    with pytest.raises(PayloadTooLargeError) as too_many:
        split_events({"events": [{}] * 4}, "envelope", 50, LIMITS)
    assert too_many.value.extra["limit"] == "max_batch_events"
    with pytest.raises(PayloadTooLargeError) as too_big:
        split_events({"events": [{}, {"x": "y" * 300}]}, "envelope", 400, LIMITS)
    assert too_big.value.extra["limit"] == "max_event_bytes" and "#1" in too_big.value.detail


def test_binary_mode_decodes_percent_encoded_headers() -> None:
    headers = {"ce-specversion": "1.0", "ce-id": "a%20b", "ce-subject": "c%C3%A9", "ce-type": "x"}
    envelope = from_binary(headers, {"url": "u"}, "application/json")
    assert envelope == {
        "event_id": "a b",
        "candidate_id": "cé",
        "type": "x",
        "payload": {"url": "u"},
    }
    assert isinstance(from_binary({**headers, "ce-specversion": "0.3"}, {}, "x"), Rejection)


def test_envelope_fields_are_named_as_cloudevents_attributes() -> None:
    assert attribute_of("candidate_id") == "subject"
    assert attribute_of("occurred_at") == "time"
    assert attribute_of("payload.url") == "data.url"
    assert attribute_of("payload") == "data"
    assert attribute_of("(record)") == "(record)"


# --- ingest with a scripted publisher --------------------------------------------------------


class ScriptedPublisher:
    """Answers each record with the next scripted outcome; records every call."""

    def __init__(self, outcomes: Sequence[NurtureError | None], gate: asyncio.Event | None = None):
        self.outcomes = list(outcomes)
        self.calls: list[list[str]] = []
        self.gate = gate
        self.late: list[LateOutcome] = []

    async def publish(
        self, records: Sequence[OutgoingRecord], on_late: LateOutcome | None = None
    ) -> list[NurtureError | None]:
        self.calls.append([r.record_id for r in records])
        if on_late is not None:
            self.late.append(on_late)
        if self.gate is not None:
            await self.gate.wait()
        return [self.outcomes.pop(0) for _ in records]

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def _ingest(publisher: Any, window_s: float = 60) -> EventIngest:
    parts = IngestParts(
        RecordEncoder(),
        publisher,
        GatewayMetrics(CollectorRegistry()),
        now=lambda: datetime(2025, 3, 2, tzinfo=UTC),
    )
    return EventIngest(parts, AcceptedIds(window_s, 1000), "t.candidate.activity", ack_timeout_s=5)


def _run(ingest: EventIngest, events: list[Any]) -> tuple[int, dict[str, Any]]:
    prepared = normalize(events, "envelope", "career-site", {}, "application/json")
    return asyncio.run(ingest.ingest(prepared, "career-site", "envelope"))


def test_a_partly_acknowledged_batch_is_503_and_says_exactly_which_were_accepted() -> None:
    down = PublishTimeoutError("t", "broker went away")
    publisher = ScriptedPublisher([None, None, down, down])
    events = [event() for _ in range(4)]
    status, body = _run(_ingest(publisher), [*events, event(candidate_id="")])
    assert status == 503
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "accepted",
        "unavailable",
        "unavailable",
        "rejected",
    ]
    assert body["results"][2]["detail"].startswith("Kafka unavailable")
    assert (body["accepted"], body["unavailable"], body["rejected"]) == (2, 2, 1)


def test_a_retry_after_a_partial_failure_publishes_only_the_missing_events() -> None:
    down = PublishTimeoutError("t", "broker went away")
    publisher = ScriptedPublisher([None, down, None])
    ingest = _ingest(publisher)
    events = [event(), event()]
    assert _run(ingest, events)[0] == 503
    status, body = _run(ingest, events)
    assert status == 202
    assert [r["status"] for r in body["results"]] == ["duplicate", "accepted"]
    assert publisher.calls[1] == [events[1]["event_id"]]


def test_kafka_known_down_publishes_nothing() -> None:
    class Down(ScriptedPublisher):
        async def publish(
            self, records: Sequence[OutgoingRecord], on_late: LateOutcome | None = None
        ) -> list[NurtureError | None]:
            raise KafkaUnavailableError("not connected")

    status, body = _run(_ingest(Down([])), [event(), event()])
    assert status == 503 and body["unavailable"] == 2 and body["accepted"] == 0


def test_status_for_mixed_and_all_rejected_batches() -> None:
    assert _run(_ingest(ScriptedPublisher([None])), [event(), event(type="x")])[0] == 202
    assert _run(_ingest(ScriptedPublisher([])), [event(type="x"), 3])[0] == 422


def test_a_timed_out_event_settles_later_and_then_counts_as_a_duplicate() -> None:
    sent = event()
    timeout = AckTimeoutError("t", "no ack yet", event_id=sent["event_id"])
    publisher = ScriptedPublisher([timeout])
    ingest = _ingest(publisher)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        prepared = normalize([sent], "envelope", "career-site", {}, "application/json")
        _, first = await ingest.ingest(prepared, "career-site", "envelope")
        assert ingest.dedup.pending(sent["event_id"]) is not None  # still in flight
        publisher.late[0](0, None)  # the broker acknowledged it after all
        _, second = await ingest.ingest(prepared, "career-site", "envelope")
        return first, second

    first, second = asyncio.run(scenario())
    assert first["results"][0]["status"] == "unavailable"
    assert second["results"][0]["status"] == "duplicate"
    assert len(publisher.calls) == 1


def test_concurrent_requests_with_the_same_id_publish_it_once() -> None:
    sent = event()

    async def scenario() -> list[dict[str, Any]]:
        gate = asyncio.Event()
        publisher = ScriptedPublisher([None, None], gate)
        ingest = _ingest(publisher)
        prepared = normalize([sent], "envelope", "career-site", {}, "application/json")
        first = asyncio.create_task(ingest.ingest(prepared, "career-site", "envelope"))
        second = asyncio.create_task(ingest.ingest(prepared, "career-site", "envelope"))
        await asyncio.sleep(0)
        gate.set()
        answers = await asyncio.gather(first, second)
        assert publisher.calls == [[sent["event_id"]]]
        return [body for _, body in answers]

    first, second = asyncio.run(scenario())
    assert first["results"][0]["status"] == "accepted"
    assert second["results"][0]["status"] == "duplicate"
