"""An unsubscribe stops actions already decided (issue #6), against the real broker.

A real ``nurture worker`` (stream clock, a one-step welcome campaign) decides a welcome e-mail
for two candidates; the delivery consumer (in-process) gets a 451 from the SMTP server for both,
so both actions wait on ``nurture.action.retry``. Then one candidate unsubscribes (an
``unsubscribed`` activity event, as the gateway's one-click link publishes it): the worker
publishes the candidate's record on ``candidate.suppression``, and delivery's next attempt at
that action is ``suppressed`` with reason ``unsubscribed``, never sent; the other candidate's
action goes out once the server accepts mail again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for
from schemas.settings import KafkaSettings
from schemas.topics import SUPPRESSION
from streams.campaigns.loading import DEFAULT_DEFINITIONS
from tests.campaign_worker_support import T0, TimerRun, event_record, profile_record
from tests.kafka_helpers import read_all, unique, wait_until
from tests.test_delivery_email import Inbox, smtp_server
from tests.test_delivery_support import outcomes, running_delivery, settings_for

pytestmark = pytest.mark.kafka

WELCOME = """
id: welcome
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: hello
    action: {channel: email, template: welcome-talent-pool}
"""


class GatedInbox(Inbox):
    """aiosmtpd handler: ``451`` to every message for ``refused``, and to the others while
    ``held`` is set; counts every attempt per recipient and keeps what it accepted."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused
        self.held = threading.Event()
        self.held.set()
        self.attempts: dict[str, int] = {}
        self.accepted: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        (to,) = envelope.rcpt_tos
        with self.lock:
            self.attempts[to] = self.attempts.get(to, 0) + 1
            if to == self.refused or self.held.is_set():
                return "451 4.3.0 try again later"
            self.accepted.append(to)
        return "250 OK"

    def tried(self, to: str) -> int:
        with self.lock:
            return self.attempts.get(to, 0)


@pytest.fixture
def run(kafka: KafkaSettings, tmp_path: Path) -> Iterator[TimerRun]:
    policy = (DEFAULT_DEFINITIONS / "policy.yaml").read_text()
    made = TimerRun(kafka, tmp_path, "stream", {"welcome": WELCOME, "policy": policy})
    yield made
    made.close()


def _unsubscribe(candidate_id: str) -> tuple[bytes, bytes]:
    event = {
        "event_id": unique("unsub"),
        "type": "unsubscribed",
        "candidate_id": candidate_id,
        "occurred_at": T0 + timedelta(minutes=1),
        "source": "gateway",
        "received_at": None,
        "correlation_id": None,
        "payload": {
            "channel": "email",
            "campaign_id": "welcome",
            "action_id": None,
            "reason": None,
        },
    }
    return candidate_id.encode(), activity_codec().encode(event)


def test_an_unsubscribe_suppresses_the_waiting_retry_and_spares_other_candidates(
    kafka: KafkaSettings, tmp_path: Path, run: TimerRun
) -> None:
    leaving, staying = unique("leaving"), unique("staying")
    leaving_to, staying_to = f"{leaving}@example.com", f"{staying}@example.com"
    run.start([profile_record(leaving), profile_record(staying)])
    inbox = GatedInbox(refused=leaving_to)
    with smtp_server(inbox) as port:
        settings = settings_for(
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            gateway_url="https://go.example.org",
        )
        with running_delivery(kafka, settings, channel="email"):
            run.send(
                [
                    event_record(leaving, "talent_pool_joined", T0),
                    event_record(staying, "talent_pool_joined", T0),
                ]
            )
            # Both welcome e-mails were tried and refused: they wait on the retry topic.
            wait_until(
                lambda: inbox.tried(leaving_to) >= 1 and inbox.tried(staying_to) >= 1,
                timeout_s=60,
                what="a first, refused attempt at both e-mails",
            )
            run.send([_unsubscribe(leaving)])
            decode = codec_for("candidate_suppression").decode
            records = [decode(r.value) for r in read_all(kafka, kafka.topic(SUPPRESSION))]
            assert [r["candidate_id"] for r in records] == [leaving]
            assert set(records[0]["unsubscribed"]) == {"email"}
            inbox.held.clear()  # the server accepts mail again (but never for `leaving`)

            def settled() -> dict[str, dict[str, Any]] | None:
                final = {o["candidate_id"]: o for o in outcomes(kafka)}
                return final if {leaving, staying} <= set(final) else None

            final = wait_until(settled, timeout_s=60, what="an outcome for both actions")
            tries_when_suppressed = inbox.tried(leaving_to)
    found = outcomes(kafka)
    assert [(o["outcome"], o["reason"]) for o in found if o["candidate_id"] == leaving] == [
        ("suppressed", "unsubscribed")
    ]
    assert final[staying]["outcome"] == "sent" and final[staying]["attempt"] >= 2
    assert inbox.accepted == [staying_to]
    # Nothing was tried for `leaving` after the suppression.
    assert inbox.tried(leaving_to) == tries_when_suppressed
    actions = run.actions()
    assert sorted(a["candidate_id"] for a in actions) == sorted([leaving, staying])
    suppressed = next(o for o in found if o["candidate_id"] == leaving)
    assert suppressed["action_id"] == next(
        a["action_id"] for a in actions if a["candidate_id"] == leaving
    )
