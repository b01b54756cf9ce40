"""One action through delivery: dedupe, consent, send, and record what happened.

The order for each action, and why:

1. The store says the action is final: no-op (re-publish its outcome if that was lost).
   An action a replay decided (``replay: true``) that this channel never handled is recorded
   ``suppressed`` with reason ``replay`` and never sent.
2. Re-check consent and erasure against the latest profile, and unsubscribes against
   ``candidate.suppression``: ``suppressed`` with a reason.
3. Record ``sending`` (attempt n) in the store, *then* send, *then* record the final state.
4. The outcome goes to ``nurture.delivery``; the loop flushes and only then commits offsets.

A crash between 3's send and its final record leaves ``sending``; when Kafka redelivers the
action, senders that the peer deduplicates (webhooks, by ``Idempotency-Key``) send again, and
e-mail records ``failed`` reason ``unknown`` instead: never two e-mails to one candidate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumers.codecs import DeliveryCodecs, single_object_codecs
from consumers.errors import DeliveryError, OutcomeUnknownError, RetriableDeliveryError
from consumers.metrics import DeliveryMetrics
from consumers.outcome_index import OutcomeIndex
from consumers.profiles import ProfileState
from consumers.publisher import Headers, Publisher
from consumers.ratelimit import TokenBucket
from consumers.retries import RetryInfo, backoff_s, retry_headers
from consumers.senders import Sender
from consumers.settings import DeliverySettings
from consumers.store import Delivery, DeliveryStore, State
from consumers.suppression import SuppressionState, send_refusal
from schemas.models import CandidateProfile, DeliveryOutcome, NurtureAction

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Handler:
    """Delivers actions of one channel; the loop feeds it decoded actions and their bytes."""

    channel: str
    settings: DeliverySettings
    store: DeliveryStore
    profiles: ProfileState
    #: Unsubscribes from ``candidate.suppression`` (actions decided before them are not sent).
    suppressions: SuppressionState
    done_elsewhere: OutcomeIndex
    publisher: Publisher
    sender: Sender
    bucket: TokenBucket
    metrics: DeliveryMetrics
    clock: Callable[[], datetime] = utc_now
    #: How actions are read and outcomes written: the deployment's framing (build_loop).
    codecs: DeliveryCodecs = field(default_factory=single_object_codecs)
    #: Action ids whose outcomes were sent to Kafka since the last :meth:`flushed`.
    pending_published: list[str] = field(default_factory=list)

    def flushed(self) -> None:
        """Called by the loop after a successful flush: mark the outcomes published."""
        self.store.mark_published(self.pending_published)
        self.pending_published = []

    def handle(self, action: NurtureAction, raw: bytes, retry: RetryInfo | None) -> None:
        """Deliver ``action`` (``retry``: the attempt a retry record asks for) or skip it."""
        row = self.store.get(action.action_id)
        attempt = retry.attempt if retry else 1
        if (row is None and action.action_id in self.done_elsewhere) or (
            action.replay and self._settle_replay(action, row, attempt)
        ):
            return  # finished by another process of this channel (or before a lost data dir),
            # or a replay's decision (never sent)
        if row is not None:
            if row.final:
                if not row.published and row.outcome is not None:
                    self.publisher.outcome(action.candidate_id, row.outcome)
                return
            if row.state == "retrying" and (retry is None or attempt != row.attempt + 1):
                return  # the retry record of the next attempt carries it
            if row.state == "sending":
                if not self.sender.resend_when_unknown:
                    self._final(action, "failed", row.attempt, "unknown", "crashed while sending")
                    return
                attempt = row.attempt  # same attempt, same Idempotency-Key
        now = self.clock()
        if retry is None and action.not_before is not None and action.not_before > now:
            self._hold(action, raw, now)
            return
        profile = self.profiles.get(action.candidate_id)
        unsubscribed = self.suppressions.get(action.candidate_id)
        reason = send_refusal(action, profile, unsubscribed, now)
        if reason is not None:
            self._final(action, "suppressed", attempt, reason, None)
            return
        assert isinstance(profile, CandidateProfile)
        self._send(action, raw, profile, attempt, retry)

    def _settle_replay(self, action: NurtureAction, row: Delivery | None, attempt: int) -> bool:
        """A replay-marked action (decided by a rebuild or shadow run) is never sent: unknown
        here, it is recorded ``suppressed``/``replay`` (a stale decision; docs/replay.md); in
        flight, the live copy carries it. False when handled before: the usual no-op then."""
        if row is not None and row.final:
            return False
        if row is None:
            self._final(action, "suppressed", attempt, "replay", "decided by a replay")
        return True

    def _hold(self, action: NurtureAction, raw: bytes, now: datetime) -> None:
        """Park an action whose ``not_before`` lies ahead on the retry topic, due then."""
        assert action.not_before is not None
        due_ms = int(action.not_before.timestamp() * 1000)
        info = RetryInfo(attempt=1, not_before_ms=due_ms, first_attempt_ms=due_ms)
        self.publisher.retry(action.candidate_id, raw, retry_headers(info, "not_before"))

    def _send(
        self,
        action: NurtureAction,
        raw: bytes,
        profile: CandidateProfile,
        attempt: int,
        retry: RetryInfo | None,
    ) -> None:
        self.bucket.acquire()
        self.store.mark_sending(action.action_id, attempt, raw)
        started = time.monotonic()
        try:
            detail = self.sender.send(action, profile, attempt)
        except OutcomeUnknownError as exc:
            self._final(action, "failed", attempt, "unknown", exc.detail)
        except RetriableDeliveryError as exc:
            self._retry_or_give_up(action, raw, attempt, retry, exc)
        except DeliveryError as exc:
            self._dead_letter(action, raw, attempt, exc.reason, exc.detail)
        else:
            self._final(action, "sent", attempt, None, detail)
        finally:
            elapsed = time.monotonic() - started
            self.metrics.send_seconds.labels(self.channel).observe(elapsed)

    def _retry_or_give_up(
        self,
        action: NurtureAction,
        raw: bytes,
        attempt: int,
        retry: RetryInfo | None,
        error: RetriableDeliveryError,
    ) -> None:
        now_ms = int(time.time() * 1000)
        first_ms = retry.first_attempt_ms if retry else now_ms
        delay_s = backoff_s(
            attempt,
            base_s=self.settings.retry.base_s,
            max_delay_s=self.settings.retry.max_delay_s,
            retry_after_s=error.retry_after_s,
        )
        due_ms = now_ms + int(delay_s * 1000)
        if due_ms - first_ms > self.settings.retry.horizon_s * 1000:
            self._dead_letter(action, raw, attempt, "retry_horizon", error.reason)
            return
        info = RetryInfo(attempt + 1, due_ms, first_ms)
        # Publish and flush the retry record before the store says "retrying": a crash in
        # between leaves "sending", which resends or records unknown, never loses the action.
        self.publisher.retry(action.candidate_id, raw, retry_headers(info, error.reason))
        self.publisher.flush()
        self.store.mark_retrying(action.action_id, attempt, raw)
        self.metrics.retries.labels(self.channel, error.reason).inc()
        log.info(
            "action %s attempt %d failed (%s); retry in %.1fs",
            action.action_id,
            attempt,
            error.reason,
            delay_s,
        )

    def _dead_letter(
        self, action: NurtureAction, raw: bytes, attempt: int, reason: str, detail: str | None
    ) -> None:
        headers: Headers = [
            ("nurture-reason", reason.encode()),
            ("nurture-channel", self.channel.encode()),
            ("nurture-attempt", str(attempt).encode()),
        ]
        self.publisher.dead_letter(action.candidate_id.encode(), raw, headers)
        self._final(action, "dead_lettered", attempt, reason, detail)

    def _final(
        self,
        action: NurtureAction,
        state: State,
        attempt: int,
        reason: str | None,
        detail: str | None,
    ) -> None:
        outcome = DeliveryOutcome(
            action_id=action.action_id,
            candidate_id=action.candidate_id,
            campaign_id=action.campaign_id,
            channel=action.channel,
            outcome=state,
            reason=reason,
            attempt=attempt,
            occurred_at=self.clock(),
            detail=detail,
        )
        encoded = self.codecs.outcome.encode(outcome.to_avro())
        self.store.mark_final(action.action_id, state, attempt, encoded)
        self.publisher.outcome(action.candidate_id, encoded)
        self.pending_published.append(action.action_id)
        self.metrics.outcomes.labels(self.channel, state, reason or "").inc()
        if state == "sent":
            self.metrics.sent(self.channel, action.campaign_id)
