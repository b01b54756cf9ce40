"""`nurture deliver` as a real subprocess, killed with SIGKILL around the send: never a second
e-mail; webhooks resend only with the same Idempotency-Key; SIGTERM exits cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from schemas.settings import KafkaSettings
from schemas.stack_dump import TASKS_DUMPED, request_dump
from tests.kafka_helpers import wait_until
from tests.test_delivery_email import Inbox, smtp_server
from tests.test_delivery_support import (
    SECRET,
    TRACKING_SECRET,
    HoldingReceiver,
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
)

pytestmark = pytest.mark.kafka

NURTURE = str(Path(sys.executable).parent / "nurture")


@contextmanager
def deliver_process(
    kafka: KafkaSettings, channel: str, data_dir: Path, env: dict[str, str], **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """`nurture deliver --channel CHANNEL` in its own process; killed if still running at exit.

    ``popen``: more arguments of :class:`subprocess.Popen` (e.g. ``stderr=subprocess.PIPE``).
    """
    full_env = {
        **os.environ,
        "NURTURE_DELIVERY_WEBHOOK_SECRET": SECRET,
        "NURTURE_DELIVERY_TRACKING_SECRET": TRACKING_SECRET,
        "NURTURE_DELIVERY_POLL_TIMEOUT_MS": "100",
        **env,
    }
    process = subprocess.Popen(
        [
            NURTURE,
            "--bootstrap",
            kafka.bootstrap_servers,
            "--topic-prefix",
            kafka.topic_prefix,
            "deliver",
            "--channel",
            channel,
            "--data-dir",
            str(data_dir),
        ],
        env=full_env,
        **popen,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _outcome(kafka: KafkaSettings, action_id: str) -> list[dict[str, Any]]:
    return [o for o in outcomes(kafka) if o["action_id"] == action_id]


class BlockingInbox(Inbox):
    """Keeps the message, then holds the SMTP reply until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        self.release.wait(timeout=60)
        return answer


def test_email_killed_during_send_is_never_sent_twice(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-k"))
    the_action = action("cand-k", "email", template_id="blog-digest")
    inbox = BlockingInbox()
    with smtp_server(inbox) as port:
        env = {
            "NURTURE_DELIVERY_SMTP_HOST": "127.0.0.1",
            "NURTURE_DELIVERY_SMTP_PORT": str(port),
            "NURTURE_DELIVERY_SMTP_SECURITY": "none",
        }
        with deliver_process(kafka, "email", tmp_path, env) as first:
            publish_actions(kafka, the_action)
            wait_until(lambda: inbox.count() == 1, what="the e-mail at the server")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        inbox.release.set()
        with deliver_process(kafka, "email", tmp_path, env) as second:
            found = wait_until(lambda: _outcome(kafka, the_action.action_id), what="outcome")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    assert inbox.count() == 1
    assert [(o["outcome"], o["reason"]) for o in found] == [("failed", "unknown")]


def test_webhook_killed_after_the_send_is_not_sent_again(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-w"))
    first_action, later_action = action("cand-w"), action("cand-w")
    receiver = Receiver()
    with http_receiver(receiver) as url:
        env = {"NURTURE_DELIVERY_WEBHOOKS": f'{{"crm": "{url}"}}'}
        with deliver_process(kafka, "webhook", tmp_path, env) as first:
            publish_actions(kafka, first_action)
            wait_until(lambda: _outcome(kafka, first_action.action_id), what="first outcome")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        with deliver_process(kafka, "webhook", tmp_path, env) as second:
            publish_actions(kafka, later_action)
            wait_until(lambda: _outcome(kafka, later_action.action_id), what="later outcome")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    keys = [r.headers["Idempotency-Key"] for r in receiver.receptions]
    assert keys == [first_action.action_id, later_action.action_id]
    assert len(_outcome(kafka, first_action.action_id)) == 1


def test_webhook_killed_during_send_resends_with_the_same_key(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-h"))
    the_action = action("cand-h")
    receiver = HoldingReceiver()
    with http_receiver(receiver) as url:
        env = {"NURTURE_DELIVERY_WEBHOOKS": f'{{"crm": "{url}"}}'}
        with deliver_process(kafka, "webhook", tmp_path, env) as first:
            publish_actions(kafka, the_action)
            wait_until(lambda: receiver.count() == 1, what="the first request")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        receiver.release.set()
        with deliver_process(kafka, "webhook", tmp_path, env) as second:
            found = wait_until(lambda: _outcome(kafka, the_action.action_id), what="outcome")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    keys = [r.headers["Idempotency-Key"] for r in receiver.receptions]
    assert keys == [the_action.action_id, the_action.action_id]
    assert [(o["outcome"], o["attempt"]) for o in found] == [("sent", 1)]


def test_sigusr1_dumps_the_threads_and_the_loop_state(kafka: KafkaSettings, tmp_path: Path) -> None:
    """What a chaos run that stopped committing asks each process for: the delivery consumer's
    stacks, its membership and, per partition, its position and the offset it last committed."""
    publish_profile(kafka, profile("cand-d"))
    the_action = action("cand-d")
    receiver = Receiver()
    log_path = tmp_path / "deliver.log"
    with http_receiver(receiver) as url, log_path.open("wb") as log:
        env = {"NURTURE_DELIVERY_WEBHOOKS": f'{{"crm": "{url}"}}'}
        with deliver_process(
            kafka, "webhook", tmp_path / "data", env, stdout=log, stderr=subprocess.STDOUT
        ) as process:
            publish_actions(kafka, the_action)
            wait_until(lambda: _outcome(kafka, the_action.action_id), what="the outcome")
            dump = wait_until(
                lambda: _committed_dump(process, log_path), what="a dump after the commit"
            )
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert "most recent call first" in dump and TASKS_DUMPED in dump  # the thread stacks
    assert "group: ConsumerGroupMetadata(" in dump
    action_lines = [line for line in dump.splitlines() if ".nurture.action[" in line]
    assert len(action_lines) == kafka.topic_partitions  # one consumer: all action partitions
    assert sum("committed here 1" in line for line in action_lines) == 1
    assert "pending commits: -" in dump


def _committed_dump(process: subprocess.Popen[bytes], log_path: Path) -> str | None:
    """The process's state dump once it shows a commit, else None (asked again)."""
    dump = request_dump(process, log_path)
    return dump if "-- delivery loop --" in dump and "\ncommits 0," not in dump else None
