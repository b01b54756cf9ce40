"""kafka-python 3.0.12's stuck rebalance, made to happen, and the delivery loop's way out.

A leader whose rejoin comes only from a metadata change (here: partitions added to
``nurture.action``) is stranded in ``<rebalancing>`` when ``poll()`` times out before the
SyncGroup answer (here: a 1 ms poll timeout makes sure it does). Actions go on being handled,
and every commit is refused, until the loop leaves and joins again after
``REBALANCE_LIMIT_S`` (consumers/membership.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.admin import NewPartitions

from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTION
from streams.worker.probe import group_offsets
from tests.kafka_helpers import wait_until
from tests.test_delivery_support import (
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)

pytestmark = pytest.mark.kafka


def _all_committed(kafka: KafkaSettings) -> bool:
    offsets = group_offsets(
        kafka, f"{kafka.topic_prefix}nurture-delivery-webhook", kafka.topic(ACTION)
    )
    return all(committed == end for committed, end in offsets.values())


def test_commits_resume_after_a_rebalance_kafka_python_leaves_unfinished(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-s"))
    first, *later = [action("cand-s") for _ in range(8)]
    receiver = Receiver()
    with http_receiver(receiver) as url:
        settings = settings_for(
            tmp_path, webhooks={"crm": url}, poll_timeout_ms=1, rebalance_limit_s=2.0
        )
        with running_delivery(kafka, settings):
            publish_actions(kafka, first)
            wait_until(lambda: _all_committed(kafka) and outcomes(kafka), what="first commit")
            with topic_admin.admin_client(kafka) as admin:
                admin.create_partitions(
                    {kafka.topic(ACTION): NewPartitions(kafka.topic_partitions + 1)}
                )
            publish_actions(kafka, *later)
            wait_until(lambda: len(outcomes(kafka)) == 8, what="every outcome")
            wait_until(lambda: _all_committed(kafka), timeout_s=45, what="every action committed")
    assert receiver.count() == 8
