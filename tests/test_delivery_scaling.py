"""Two `nurture deliver --channel email` processes in one group, with rebalances mid-run (one
joins while the other delivers, then the first leaves on SIGTERM): every action is e-mailed
exactly once, and both processes took part."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from producers.producer import NurtureProducer
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until
from tests.test_delivery_crash import deliver_process
from tests.test_delivery_email import Inbox, smtp_server
from tests.test_delivery_support import (
    HoldingReceiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
)

pytestmark = pytest.mark.kafka


def _sent_by(data_dir: Path) -> int:
    """How many e-mails the process with ``data_dir`` recorded as sent (0 before it starts)."""
    path = data_dir / "delivery-email.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=5)
    try:
        row = db.execute("SELECT count(*) FROM deliveries WHERE state = 'sent'").fetchone()
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        db.close()
    return int(row[0])


def _members(kafka: KafkaSettings, channel: str = "email") -> int:
    """Members of the channel's delivery group that hold partitions (0 while it rebalances)."""
    group_id = f"{kafka.topic_prefix}nurture-delivery-{channel}"
    with topic_admin.admin_client(kafka) as admin:
        group = admin.describe_groups([group_id])[group_id]
    if group["group_state"] != "Stable":
        return 0
    return sum(1 for member in group["members"] if member.get("member_assignment"))


def test_two_processes_with_rebalances_send_each_email_once(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    candidates = [f"cand-g{i}" for i in range(12)]
    with NurtureProducer(kafka) as producer:
        for candidate in candidates:
            producer.upsert_profile(profile(candidate))
        producer.flush()
    actions = [
        action(candidates[i % len(candidates)], "email", template_id="blog-digest")
        for i in range(45)
    ]
    earlier, later = actions[:15], actions[15:]
    inbox = Inbox()
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    with smtp_server(inbox) as port:
        env = {
            "NURTURE_DELIVERY_SMTP_HOST": "127.0.0.1",
            "NURTURE_DELIVERY_SMTP_PORT": str(port),
            "NURTURE_DELIVERY_SMTP_SECURITY": "none",
            "NURTURE_DELIVERY_MAX_POLL_RECORDS": "3",  # small batches: rebalances come quickly
            "NURTURE_DELIVERY_RATE_PER_S": "4",
            "NURTURE_DELIVERY_RATE_BURST": "1",
        }
        with deliver_process(kafka, "email", first_dir, env) as first:
            publish_actions(kafka, *earlier)
            wait_until(lambda: inbox.count() >= 1, what="the first process under way")
            with deliver_process(kafka, "email", second_dir, env) as second:
                wait_until(lambda: _members(kafka) == 2, timeout_s=60, what="both in the group")
                publish_actions(kafka, *later)
                wait_until(
                    lambda: _sent_by(second_dir) >= 2, timeout_s=60, what="the second one sends"
                )
                first.send_signal(signal.SIGTERM)  # leaves: its partitions move to the second
                assert first.wait(timeout=30) == 0
                wait_until(
                    lambda: len(outcomes(kafka)) >= len(actions), timeout_s=90, what="all sent"
                )
                second.send_signal(signal.SIGTERM)
                assert second.wait(timeout=30) == 0
    expected = sorted(f"<{a.action_id}@candidate-nurture>" for a in actions)
    assert sorted(str(m["Message-ID"]) for m in inbox.messages) == expected
    found = outcomes(kafka)
    assert sorted(o["action_id"] for o in found) == sorted(a.action_id for a in actions)
    assert {o["outcome"] for o in found} == {"sent"}
    by_first, by_second = _sent_by(first_dir), _sent_by(second_dir)
    assert by_first > 0 and by_second > 0
    assert by_first + by_second == len(actions)


def test_a_rebalance_that_does_not_end_is_joined_again_and_nothing_is_sent_twice(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    """The first process holds a webhook send (it does not poll), so the rebalance the second
    one starts cannot end; past NURTURE_DELIVERY_REBALANCE_LIMIT_S the second leaves and joins
    again (the way out of kafka-python's stuck rebalance, consumers/membership.py). Once the
    send is released the group settles, and every action is delivered once."""
    for candidate in ("cand-r1", "cand-r2"):
        publish_profile(kafka, profile(candidate))
    held, *rest = [action(f"cand-r{1 + i % 2}") for i in range(6)]
    receiver = HoldingReceiver()
    second_log = tmp_path / "second.log"
    with http_receiver(receiver) as url, second_log.open("wb") as log:
        env = {
            "NURTURE_DELIVERY_WEBHOOKS": f'{{"crm": "{url}"}}',
            "NURTURE_DELIVERY_REBALANCE_LIMIT_S": "2",
        }
        with deliver_process(kafka, "webhook", tmp_path / "first", env) as first:
            publish_actions(kafka, held)
            wait_until(lambda: receiver.count() == 1, what="the first process's held send")
            with deliver_process(
                kafka,
                "webhook",
                tmp_path / "second",
                {**env, "NURTURE_DELIVERY_LOG_LEVEL": "warning"},
                stdout=log,
                stderr=subprocess.STDOUT,
            ) as second:
                wait_until(
                    lambda: "joining the group again" in second_log.read_text(errors="replace"),
                    what="the second process joining again",
                )
                receiver.release.set()
                publish_actions(kafka, *rest)
                wait_until(lambda: len(outcomes(kafka)) >= 6, timeout_s=90, what="every outcome")
                wait_until(
                    lambda: _members(kafka, "webhook") == 2, timeout_s=60, what="a settled group"
                )
                for process in (second, first):
                    process.send_signal(signal.SIGTERM)
                    assert process.wait(timeout=30) == 0
    keys = sorted(r.headers["Idempotency-Key"] for r in receiver.receptions)
    assert keys == sorted(a.action_id for a in (held, *rest))
    assert sorted(o["action_id"] for o in outcomes(kafka)) == keys
