"""`nurture replay rebuild --from T` against the real broker: activity before T does not count,
the group's offsets end up at the end of both source topics, and its changelog holds the rows."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ENGAGEMENT, PROFILE
from streams.bench.loadgen import START
from streams.replay.rebuild import changelog_topic
from streams.scoring.config import load_model
from streams.scoring.state import new_state
from streams.scoring.update import apply_event, engagement_record
from streams.worker.engagement import ActivityItem, scoring_input
from streams.worker.probe import group_offsets
from tests.kafka_helpers import read_all, unique
from tests.replay_support import last_per_key, nurture

pytestmark = pytest.mark.kafka

HOUR_MS = 3_600_000


def _viewed(cid: str, n: int) -> dict[str, Any]:
    return {
        "event_id": f"{cid}-view-{n}",
        "type": "page_viewed",
        "candidate_id": cid,
        "occurred_at": START + timedelta(hours=n),
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": {"url": "https://careers.example.com/jobs/1", "page_type": "job", "job_id": "1"},
    }


def test_rebuild_from_a_time_starts_the_state_there(kafka: KafkaSettings, tmp_path: Path) -> None:
    t = int(time.time() * 1000) - HOUR_MS
    encode = activity_codec().encode
    producer = clients.producer(kafka, acks="all")
    try:
        for cid, n, at in (("before", 1, t - 10), ("both", 2, t - 5), ("both", 3, t + 5)):
            producer.send(
                kafka.topic(ACTIVITY),
                key=cid.encode(),
                value=encode(_viewed(cid, n)),
                timestamp_ms=at,
            )
        producer.flush()
    finally:
        producer.close()
    app_id = unique("rebuild-from")
    result = nurture(
        kafka,
        "replay",
        "rebuild",
        "--from",
        str(t),
        "--yes",
        "--processes",
        "1",
        "--app-id",
        app_id,
        "--data-dir",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output

    decode = codec_for("engagement_record").decode
    records = {m.key.decode(): decode(m.value) for m in read_all(kafka, kafka.topic(ENGAGEMENT))}
    assert set(records) == {"both"}  # "before" had activity only before T
    assert records["both"]["last_event_id"] == "both-view-3"
    model = load_model()
    only_after = new_state()
    apply_event(model, only_after, scoring_input(ActivityItem(_viewed("both", 3), 0, 0)))
    assert records["both"]["score"] == engagement_record(model, "both", only_after)["score"]
    group = f"{kafka.topic_prefix}{app_id}"
    assert set(last_per_key(kafka, changelog_topic(group))) >= {b"both"}
    for topic in (kafka.topic(ACTIVITY), kafka.topic(PROFILE)):
        assert all(c == end for c, end in group_offsets(kafka, group, topic).values())
