"""E-mail delivery against a real SMTP server (aiosmtpd) and the real broker."""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consumers.email_sender import EmailSender
from schemas.models import ContentChoice
from schemas.settings import KafkaSettings
from schemas.topics import ACTION_DLQ
from schemas.tracking_tokens import InvalidTokenError, make_token, read_token
from tests.kafka_helpers import read_all, wait_until
from tests.test_delivery_support import (
    TRACKING_SECRET,
    action,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)


class Inbox:
    """aiosmtpd handler keeping every message; answers ``codes`` to DATA first, then 250."""

    def __init__(self, codes: list[str] | None = None) -> None:
        self.codes = list(codes or [])
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.codes:
                return self.codes.pop(0)
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(inbox: Inbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _email_settings(tmp_path: Path, port: int | None, **extra: Any) -> Any:
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"} if port else {}
    return settings_for(
        tmp_path,
        tracking_secret=TRACKING_SECRET,
        gateway_url="https://go.example.org",
        **smtp,
        **extra,
    )


def _job(content_id: str) -> ContentChoice:
    return ContentChoice(
        content_id=content_id,
        kind="job_opening",
        title=f"Python Engineer {content_id}",
        url=f"https://jobs.example.org/{content_id}",
    )


@pytest.mark.kafka
def test_sends_localised_multipart_mail_with_unsubscribe_headers(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-de", locale="de-DE"))
    publish_profile(kafka, profile("cand-en"))
    german = action("cand-de", "email", template_id="welcome-talent-pool", content=[_job("j1")])
    english = action("cand-en", "email", template_id="welcome-talent-pool", content=[_job("j2")])
    inbox = Inbox()
    with (
        smtp_server(inbox) as port,
        running_delivery(kafka, _email_settings(tmp_path, port), channel="email"),
    ):
        publish_actions(kafka, german, english)
        wait_until(lambda: inbox.count() == 2, what="two e-mails")
        wait_until(lambda: len(outcomes(kafka)) == 2, what="two outcomes")
    by_to = {str(m["To"]): m for m in inbox.messages}
    de = by_to["cand-de@example.org"]
    assert de["Subject"] == "Willkommen in unserer Talent-Community"
    assert de["Message-ID"] == f"<{german.action_id}@candidate-nurture>"
    assert de["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(de["List-Unsubscribe"])
    assert "<mailto:unsubscribe@example.org?subject=unsubscribe%20" in unsubscribe
    assert "<https://go.example.org/t/unsubscribe/" in unsubscribe
    assert de.get_content_type() == "multipart/alternative"
    text = de.get_body(("plain",))
    html = de.get_body(("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    assert "Hallo Ada" in text_body and "Hallo Ada" in html_body
    assert "Python Engineer j1" in text_body and "Python Engineer j1" in html_body
    click_token = text_body.split("https://go.example.org/t/click/")[1].split()[0]
    claims = read_token(TRACKING_SECRET, "click", click_token)
    assert claims["u"] == "https://jobs.example.org/j1"
    assert claims["a"] == german.action_id
    en = by_to["cand-en@example.org"]
    assert en["Subject"] == "Welcome to our talent community"
    assert {o["outcome"] for o in outcomes(kafka)} == {"sent"}


@pytest.mark.kafka
def test_smtp_4xx_is_retried_and_template_errors_dead_letter(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-r"))
    retried = action("cand-r", "email", template_id="blog-digest")
    broken = action("cand-r", "email", template_id="no-such-template")
    inbox = Inbox(codes=["451 try again later"])
    with (
        smtp_server(inbox) as port,
        running_delivery(kafka, _email_settings(tmp_path, port), channel="email"),
    ):
        publish_actions(kafka, retried, broken)
        wait_until(lambda: len(outcomes(kafka)) == 2, what="two outcomes")
    found = {o["action_id"]: o for o in outcomes(kafka)}
    assert (found[retried.action_id]["outcome"], found[retried.action_id]["attempt"]) == (
        "sent",
        2,
    )
    assert (found[broken.action_id]["outcome"], found[broken.action_id]["reason"]) == (
        "dead_lettered",
        "template_error",
    )
    assert inbox.count() == 1


@pytest.mark.kafka
def test_without_smtp_mail_goes_to_the_local_outbox(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-o"))
    settings = _email_settings(tmp_path, None)
    with running_delivery(kafka, settings, channel="email"):
        publish_actions(kafka, action("cand-o", "email", template_id="blog-digest"))
        wait_until(lambda: outcomes(kafka), what="an outcome")
    stored = list(mailbox.Maildir(settings.outbox, create=False))
    assert len(stored) == 1
    assert stored[0]["To"] == "cand-o@example.org"


@pytest.mark.kafka
def test_smtp_5xx_to_the_message_is_dead_lettered_at_once(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-5"))
    refused = action("cand-5", "email", template_id="blog-digest")
    inbox = Inbox(codes=["554 5.7.1 message rejected"])
    with (
        smtp_server(inbox) as port,
        running_delivery(kafka, _email_settings(tmp_path, port), channel="email"),
    ):
        publish_actions(kafka, refused)
        found = wait_until(lambda: outcomes(kafka), what="the outcome")
        dead = wait_until(lambda: read_all(kafka, kafka.topic(ACTION_DLQ)), what="dead letter")
    assert [(o["outcome"], o["reason"], o["attempt"]) for o in found] == [
        ("dead_lettered", "smtp_rejected", 1)
    ]
    assert [dict(r.headers)["nurture-reason"] for r in dead] == [b"smtp_rejected"]
    assert inbox.count() == 0 and not inbox.codes


def test_unsubscribe_links_outlive_open_and_click_links(tmp_path: Path) -> None:
    settings = _email_settings(tmp_path, None)
    sender = EmailSender(settings)
    the_action = action("cand-u", "email", template_id="blog-digest", content=[_job("j9")])
    links = sender.links(the_action)
    day = 86_400
    now = time.time()
    unsubscribe = links.unsubscribe_url.rsplit("/", 1)[1]
    click = links.click_urls["j9"].rsplit("/", 1)[1]
    assert read_token(TRACKING_SECRET, "unsubscribe", unsubscribe, now=now + 364 * day)
    assert read_token(TRACKING_SECRET, "click", click, now=now + 59 * day)
    with pytest.raises(InvalidTokenError):
        read_token(TRACKING_SECRET, "click", click, now=now + 61 * day)
    with pytest.raises(InvalidTokenError):
        read_token(TRACKING_SECRET, "unsubscribe", unsubscribe, now=now + 366 * day)


def test_tracking_tokens_are_purpose_bound_and_expire() -> None:
    token = make_token("k", "open", {"a": "act-1"}, ttl_s=60, now=1_000)
    assert read_token("k", "open", token, now=1_059)["a"] == "act-1"
    with pytest.raises(InvalidTokenError):
        read_token("k", "open", token, now=1_060)
    with pytest.raises(InvalidTokenError):
        read_token("k", "unsubscribe", token, now=1_000)
    with pytest.raises(InvalidTokenError):
        read_token("other", "open", token, now=1_000)
    with pytest.raises(InvalidTokenError):
        read_token("k", "open", "not-a-token", now=1_000)
