"""One SMTP connection per consumer: many messages share it; a dropped one is opened again
without losing or doubling a message (aiosmtpd and the real broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consumers.smtp_connection import must_reopen
from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until
from tests.test_delivery_email import Inbox, free_port
from tests.test_delivery_support import (
    action,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)


class PeerInbox(Inbox):
    """Also remembers the client address (host, port) of each message: one port, one connection."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.peers.append(session.peer)
        return answer

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


def _settings(tmp_path: Path, port: int, **extra: Any) -> Any:
    return settings_for(
        tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", **extra
    )


@pytest.mark.kafka
def test_many_messages_share_one_connection(kafka: KafkaSettings, tmp_path: Path) -> None:
    candidates = [f"cand-s{i}" for i in range(8)]
    for candidate in candidates:
        publish_profile(kafka, profile(candidate))
    actions = [action(c, "email", template_id="blog-digest") for c in candidates]
    inbox = PeerInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with running_delivery(kafka, _settings(tmp_path, port), channel="email"):
            publish_actions(kafka, *actions)
            wait_until(lambda: len(outcomes(kafka)) == len(actions), what="all outcomes")
    finally:
        controller.stop()
    assert inbox.count() == len(actions)
    assert len(set(inbox.peers)) == 1, inbox.peers
    assert {o["outcome"] for o in outcomes(kafka)} == {"sent"}


@pytest.mark.kafka
def test_a_dropped_connection_is_opened_again_without_loss_or_double(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-d1"))
    publish_profile(kafka, profile("cand-d2"))
    first = action("cand-d1", "email", template_id="blog-digest")
    second = action("cand-d2", "email", template_id="blog-digest")
    inbox = PeerInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with running_delivery(kafka, _settings(tmp_path, port), channel="email"):
            publish_actions(kafka, first)
            wait_until(lambda: outcomes(kafka), what="the first outcome")
            controller.stop()  # closes the kept connection under the consumer's feet
            controller = Controller(inbox, hostname="127.0.0.1", port=port)
            controller.start()
            publish_actions(kafka, second)
            wait_until(lambda: len(outcomes(kafka)) == 2, what="the second outcome")
    finally:
        controller.stop()
    assert sorted(inbox.message_ids()) == sorted(
        f"<{a.action_id}@candidate-nurture>" for a in (first, second)
    )
    assert len(set(inbox.peers)) == 2
    found = {o["action_id"]: (o["outcome"], o["attempt"]) for o in outcomes(kafka)}
    assert found == {first.action_id: ("sent", 1), second.action_id: ("sent", 1)}


def test_a_kept_connection_is_reopened_when_idle_or_used_up() -> None:
    def reopen(idle_s: float, messages: int) -> bool:
        return must_reopen(idle_s=idle_s, messages=messages, idle_timeout_s=60.0, max_messages=100)

    assert not reopen(59.0, 99)
    assert reopen(60.0, 1)
    assert reopen(0.0, 100)
