"""Two `nurture deliver --channel email` processes in one group, with rebalances mid-run (one
joins while the other delivers, then the first leaves on SIGTERM): every action is e-mailed
exactly once, and both processes took part."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest

from deploy import topics as topic_admin
from producers.producer import NurtureProducer
from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until
from tests.test_delivery_crash import deliver_process
from tests.test_delivery_email import Inbox, smtp_server
from tests.test_delivery_support import action, outcomes, profile, publish_actions

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


def _members(kafka: KafkaSettings) -> int:
    """Members of the e-mail delivery group that hold partitions."""
    group_id = f"{kafka.topic_prefix}nurture-delivery-email"
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
