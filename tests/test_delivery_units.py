"""Unit tests of delivery's pure parts: signatures, send-time guards, backoff, rate, store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from kafka import TopicPartition
from kafka.structs import MemberState, OffsetAndMetadata

from consumers.guards import refusal
from consumers.loop import still_ours
from consumers.membership import RebalanceWatch
from consumers.profiles import ERASED
from consumers.ratelimit import TokenBucket
from consumers.retries import RetryInfo, backoff_s, read_retry_headers, retry_headers
from consumers.store import DeliveryStore
from consumers.webhook import retry_after_s
from consumers.webhook_signature import sign, verify
from tests.test_delivery_support import NOW, action, profile


@given(st.binary(max_size=200), st.text(min_size=1, max_size=20))
def test_signature_verifies_and_rejects_tampering(body: bytes, secret: str) -> None:
    header = sign(secret, body, timestamp=1_700_000_000)
    assert verify(secret, header, body, now=1_700_000_100)
    assert not verify(secret, header, body + b"x", now=1_700_000_100)
    assert not verify(secret + "x", header, body, now=1_700_000_100)


def test_signature_expires_after_tolerance() -> None:
    header = sign("s", b"{}", timestamp=1_000)
    assert verify("s", header, b"{}", tolerance_s=300, now=1_300)
    assert not verify("s", header, b"{}", tolerance_s=300, now=1_301)
    assert not verify("s", "garbage", b"{}")


def test_signature_accepts_any_of_several_v1_for_rotation() -> None:
    header = sign("new", b"b", timestamp=10)
    old = sign("old", b"b", timestamp=10).split(",")[1]
    assert verify("old", f"{header},{old}", b"b", now=10)


def test_guards_at_send_time() -> None:
    granted = {"granted": True, "granted_at": NOW - timedelta(days=1)}
    email = action("c", "email", template_id="welcome")
    assert refusal(email, None, NOW) == "no_profile"
    assert refusal(email, ERASED, NOW) == "erased"
    assert refusal(email, profile("c", consents={}), NOW) == "consent_missing"
    expired = {**granted, "expires_at": NOW - timedelta(seconds=1)}
    assert refusal(email, profile("c", consents={"email": expired}), NOW) == "consent_expired"
    withdrawn = {**granted, "withdrawn_at": NOW}
    assert refusal(email, profile("c", consents={"email": withdrawn}), NOW) == ("consent_withdrawn")
    assert refusal(email, profile("c", consents={"email": granted}), NOW) is None
    assert refusal(action("c", "webhook"), profile("c", consents={}), NOW) is None
    removal = action("c", "ad_audience", audience="hot", audience_op="remove")
    assert refusal(removal, profile("c", consents={}), NOW) is None


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_backoff_grows_is_capped_and_jittered(attempt: int, seed: int) -> None:
    delay = backoff_s(attempt, base_s=1.0, max_delay_s=60.0, rng=random.Random(seed))
    ceiling = min(60.0, 2.0 ** (attempt - 1))
    assert ceiling / 2 <= delay <= ceiling


def test_backoff_honours_retry_after() -> None:
    assert backoff_s(1, base_s=1.0, max_delay_s=60.0, retry_after_s=120.0) == 120.0


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert retry_after_s("120", now) == 120.0
    assert retry_after_s("Wed, 25 Nov 2026 12:01:30 GMT", now) == 90.0
    assert retry_after_s("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0.0  # already past
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None, now) is None


def test_retry_headers_round_trip() -> None:
    info = RetryInfo(attempt=3, not_before_ms=123, first_attempt_ms=100)
    assert read_retry_headers(retry_headers(info, "timeout")) == info
    assert read_retry_headers([]) is None


def test_token_bucket_waits_for_tokens() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(2.0, 2, clock=lambda: now[0], sleep=sleep)
    assert [bucket.acquire() for _ in range(2)] == [0.0, 0.0]
    assert bucket.acquire() == 0.5
    assert slept == [0.5]


def test_store_keeps_states_and_gone_endpoints(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path, "webhook")
    store.mark_sending("a1", 1, b"raw")
    row = store.get("a1")
    assert row is not None
    assert (row.state, row.final, row.action) == ("sending", False, b"raw")
    store.mark_final("a1", "sent", 1, b"outcome")
    store.close()
    reopened = DeliveryStore(tmp_path, "webhook")
    row = reopened.get("a1")
    assert row is not None
    assert (row.final, row.published, row.outcome) == (True, False, b"outcome")
    reopened.mark_published(["a1"])
    assert [r.action_id for r in reopened.unpublished()] == []
    assert not reopened.is_gone("crm")
    reopened.mark_gone("crm")
    assert reopened.is_gone("crm")
    reopened.close()


def test_pending_commits_leave_with_their_partition() -> None:
    mine, other = TopicPartition("a", 0), TopicPartition("a", 1)
    pending = {mine: OffsetAndMetadata(5, "", -1), other: OffsetAndMetadata(9, "", -1)}
    assert still_ours(pending, {mine}) == {mine: pending[mine]}  # `other` went elsewhere
    assert still_ours(pending, set()) == {}  # none left: nothing keeps it "waiting"
    assert still_ours({}, {mine}) == {}


def test_a_rebalance_counts_as_stuck_only_past_the_limit_and_only_once() -> None:
    watch = RebalanceWatch(limit_s=30.0)
    assert not watch.stuck(MemberState.REBALANCING, now=100.0)  # first seen
    assert not watch.stuck(MemberState.REBALANCING, now=130.0)  # exactly the limit
    assert watch.stuck(MemberState.REBALANCING, now=130.5)
    assert not watch.stuck(MemberState.REBALANCING, now=131.0)  # starts over after a rejoin
    assert not watch.stuck(MemberState.STABLE, now=170.0)
    assert not watch.stuck(MemberState.REBALANCING, now=171.0)  # a new rebalance
    assert not watch.stuck(MemberState.UNJOINED, now=250.0)
    assert not watch.stuck(MemberState.REBALANCING, now=260.0)
