"""A shadow run's window against the real broker: records before --from only warm the state up,
records from --to on are not read, and the sandbox gets only the window's decisions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for, encode
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, ENGAGEMENT, PROFILE
from streams.bench.loadgen import START
from tests.kafka_helpers import read_all
from tests.replay_support import nurture, profile

pytestmark = pytest.mark.kafka

HOUR_MS = 3_600_000


def _joined(cid: str, minutes: int) -> dict[str, Any]:
    return {
        "event_id": f"{cid}-joined",
        "type": "talent_pool_joined",
        "candidate_id": cid,
        "occurred_at": START.replace(minute=minutes),
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": {"pool_id": "pool-1"},
    }


def test_warm_up_window_and_stop(kafka: KafkaSettings, tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000)
    t1, t2 = now_ms - 2 * HOUR_MS, now_ms - HOUR_MS
    encode_activity = activity_codec().encode
    producer = clients.producer(kafka, acks="all")
    try:
        for cid in ("early", "inside", "late"):
            value = encode("candidate_profile", profile(cid, email_consent=True))
            producer.send(
                kafka.topic(PROFILE), key=cid.encode(), value=value, timestamp_ms=t1 - HOUR_MS
            )
        for cid, minutes, at in (
            ("early", 1, t1 - 10),
            ("inside", 2, t1 + 10),
            ("late", 3, t2 + 10),
        ):
            value = encode_activity(_joined(cid, minutes))
            producer.send(kafka.topic(ACTIVITY), key=cid.encode(), value=value, timestamp_ms=at)
        producer.flush()
    finally:
        producer.close()

    summaries = tmp_path / "summaries"
    result = nurture(
        kafka,
        "replay",
        "shadow",
        "--name",
        "window",
        "--from",
        str(t1),
        "--to",
        str(t2),
        "--processes",
        "1",
        "--summary-dir",
        str(summaries),
    )
    assert result.exit_code == 0, result.output

    decode = codec_for("engagement_record").decode
    engagement = {
        m.key.decode(): decode(m.value)
        for m in read_all(kafka, kafka.topic(f"{ENGAGEMENT}.shadow-window"))
    }
    assert set(engagement) == {"early", "inside"}  # "late" is after --to: never read
    actions = [
        codec_for("nurture_action").decode(m.value)
        for m in read_all(kafka, kafka.topic(f"{ACTION}.shadow-window"))
    ]
    assert [(a["candidate_id"], a["campaign_id"], a["replay"]) for a in actions] == [
        ("inside", "welcome-series", True)
    ]  # "early" joined in the warm-up: its welcome is state, not output
    assert read_all(kafka, kafka.topic(ACTION)) == []  # live outputs untouched

    summary = json.loads((summaries / "shadow-window.json").read_text())
    assert summary["counts"]["emitted"] == [["welcome-series", "email", 1]]
    assert summary["counts"]["scored"] == 1  # the window's one event; warm-up not counted
