"""`nurture campaigns simulate --candidate ID` without `--events`: a live candidate's records,
read from the real broker (streams/candidate_reader.py), dry-run through the shipped campaigns.

The same records written to a simulator file must give the same report with `--events`, other
candidates (also those on the same partition) must not appear, and nothing may be written to
any topic.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import TopicPartition
from typer.testing import CliRunner

from deploy.cli.main import app
from schemas.codec import activity_codec, encode
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE, TOPICS
from streams.bench.loadgen import publish
from streams.campaigns.history import RawRecord, history_records
from tests.campaign_worker_support import (
    T0,
    applications_to_hot,
    consent,
    event,
    ids_on_partition,
    profile,
)
from tests.kafka_helpers import unique

pytestmark = pytest.mark.kafka

runner = CliRunner()


def _cli(kafka: KafkaSettings, *args: str) -> Any:
    return runner.invoke(
        app,
        ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix, *args],
    )


def _end_offsets(kafka: KafkaSettings) -> dict[str, int]:
    """Records per declared topic (summed over partitions)."""
    consumer = clients.consumer(kafka, enable_auto_commit=False)
    try:
        totals = {}
        for spec in TOPICS:
            topic = kafka.topic(spec.name)
            ids = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in ids])
            totals[spec.name] = sum(ends.values())
        return totals
    finally:
        consumer.close()


def _outcomes(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_simulate_a_live_candidate_from_kafka(kafka: KafkaSettings, tmp_path: Path) -> None:
    joiner, neighbour = ids_on_partition(unique("sim"), 2, partition=0)
    (hot,) = ids_on_partition(unique("hot"), 1, partition=2)
    profiles = [
        profile(joiner, interests=["python"]),
        profile(neighbour, interests=["python"]),
        profile(hot, consents={"email": consent()}),  # no `ads` consent: audience suppressed
    ]
    events = [
        event(joiner, "talent_pool_joined", T0),  # 10:00 London: the welcome goes out
        event(neighbour, "talent_pool_joined", T0 + timedelta(hours=1)),
        *(
            event(hot, "application_submitted", T0 + timedelta(minutes=n), n)
            for n in range(applications_to_hot())
        ),
    ]
    publish(
        kafka,
        kafka.topic(PROFILE),
        [(p["candidate_id"].encode(), encode("candidate_profile", p)) for p in profiles],
    )
    codec = activity_codec()
    garbage = (joiner.encode(), b"not an avro record")
    publish(
        kafka,
        kafka.topic(ACTIVITY),
        [(e["candidate_id"].encode(), codec.encode(e)) for e in events] + [garbage],
    )
    before = _end_offsets(kafka)

    live = _cli(kafka, "campaigns", "simulate", "--candidate", joiner, "--run-on", "8d", "--json")
    assert live.exit_code == 0, live.output
    outcomes = _outcomes(live.output)
    assert [(o["campaign_id"], o["step_id"], o["status"]) for o in outcomes] == [
        ("welcome-series", "welcome", "emitted"),
        ("welcome-series", "blog-digest", "emitted"),
    ]
    assert {o["candidate_id"] for o in outcomes} == {joiner}, "the neighbour is not read"
    assert outcomes[0]["decided_at"] == T0.strftime("%Y-%m-%d %H:%M")

    # The same records as a simulator file give the same report.
    lines = [{"subject": "candidate_profile", "record": p} for p in profiles] + [
        {"subject": "activity_event", "record": e} for e in events
    ]
    options = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line, option=options) for line in lines))
    offline = _cli(
        kafka,
        *("campaigns", "simulate", "--events", str(path), "--candidate", joiner),
        *("--run-on", "8d", "--json"),
    )
    assert offline.exit_code == 0, offline.output
    assert _outcomes(offline.output) == outcomes

    # Another partition; the tier transition comes from scoring the events read back.
    hot_run = _cli(kafka, "campaigns", "simulate", "--candidate", hot, "--json")
    assert hot_run.exit_code == 0, hot_run.output
    assert [(o["step_id"], o["status"], o["reason"]) for o in _outcomes(hot_run.output)] == [
        ("alert-recruiter", "emitted", None),
        ("add-to-audience", "suppressed", "consent_missing"),
    ]

    table = _cli(kafka, "campaigns", "simulate", "--candidate", joiner)
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())
    assert "1 profile(s), 1 event(s)" in text
    assert "1 undecodable record(s) skipped" in text
    assert "emitted 1" in text

    assert _end_offsets(kafka) == before, "a dry run writes nothing to any topic"


def test_unknown_candidate_exits_1(kafka: KafkaSettings) -> None:
    result = _cli(kafka, "campaigns", "simulate", "--candidate", unique("nobody"))
    assert result.exit_code == 1
    assert "no profile or activity records" in " ".join(result.output.split())


def test_history_keeps_only_the_candidates_decodable_records() -> None:
    record = profile("cand-a")
    other = profile("cand-b")
    raw = [
        RawRecord(PROFILE, b"cand-a", encode("candidate_profile", record)),
        RawRecord(PROFILE, b"cand-b", encode("candidate_profile", other)),
        RawRecord(PROFILE, b"cand-a", None),  # a tombstone
        RawRecord(ACTIVITY, b"cand-a", b"\xc3\x01garbage"),
        RawRecord(ACTIVITY, b"cand-a", encode("candidate_profile", record)),  # wrong topic
        RawRecord(ACTIVITY, b"cand-a", activity_codec().encode(event("cand-b", "page_viewed", T0))),
    ]
    history = history_records("cand-a", raw)
    assert [subject for subject, _ in history.records] == ["candidate_profile"]
    assert history.records[0][1]["updated_at"] == record["updated_at"]
    assert history.skipped == 3
