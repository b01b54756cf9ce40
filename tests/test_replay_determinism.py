"""Determinism of replay against the real broker: live worker vs rebuild vs shadow.

One live `nurture worker` (faust, RocksDB) processes profiles (applied first: the metric is
awaited) and then a few thousand activity events with duplicates and out-of-order times. Then:

* `nurture replay rebuild` (refused while the worker runs) must give the same last engagement
  record per candidate, byte-identical changelog rows, the same unsubscribe records and the same
  action ids (marked replay);
* a worker started afterwards recovers the rebuilt table from the changelog and scores a new
  event on top of it exactly as the reference computation of all events does;
* `nurture replay shadow` with the unchanged config gives the same records and action ids into
  its sandbox topics, and `nurture replay diff` is empty; with a changed model it is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.codec import activity_codec, codec_for, encode
from schemas.kafka_seam.topic_admin import group_members
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, ENGAGEMENT, PROFILE, SUPPRESSION
from streams.bench.loadgen import (
    START,
    LoadSpec,
    activity_events,
    candidate_id,
    publish,
)
from streams.replay.rebuild import changelog_topic
from streams.scoring.config import DEFAULT_MODEL_PATH, load_model
from streams.worker.probe import WorkerProcess, group_offsets
from tests.kafka_helpers import read_all, unique, wait_until
from tests.replay_support import last_per_key, metric, nurture, profile
from tests.worker_support import WorkerHarness, answering, published, reference

pytestmark = pytest.mark.kafka

CANDIDATES = 40
RUN = "det"


@pytest.fixture
def harness(kafka: KafkaSettings, tmp_path: Path) -> Iterator[WorkerHarness]:
    # The stream clock (deterministic campaign timers), as replays use.
    made = WorkerHarness(kafka, tmp_path, unique("replay"), env={"NURTURE_WORKER_CLOCK": "stream"})
    yield made
    made.close()


def _actions(kafka: KafkaSettings, topic: str) -> list[dict[str, Any]]:
    decode = codec_for("nurture_action").decode
    return [decode(m.value) for m in read_all(kafka, topic)]


def _live_run(kafka: KafkaSettings, harness: WorkerHarness) -> WorkerProcess:
    ids = [candidate_id(i, RUN) for i in range(CANDIDATES)]
    publish(
        kafka,
        kafka.topic(PROFILE),
        [
            (cid.encode(), encode("candidate_profile", profile(cid, email_consent=i % 3 != 0)))
            for i, cid in enumerate(ids)
        ],
    )
    worker = answering(harness.worker().start(), harness, timeout_s=90)
    labels = {"outcome": "profile"}
    wait_until(
        lambda: metric(worker.port, "nurture_worker_profile_records_total", labels) >= len(ids),
        timeout_s=60,
        what="the profiles in the worker's rows",
    )
    encode_activity = activity_codec().encode
    joins = [
        _event(f"{cid}-joined", "talent_pool_joined", cid, 20 * i, {"pool_id": "pool-1"})
        for i, cid in enumerate(ids)
    ]
    publish(
        kafka,
        kafka.topic(ACTIVITY),
        [(e["candidate_id"].encode(), encode_activity(e)) for e in joins],
    )
    publish(
        kafka,
        kafka.topic(ACTIVITY),
        [(e["candidate_id"].encode(), encode_activity(e)) for e in _within_a_day(ids)],
    )
    harness.wait_caught_up(alive=worker)
    return worker


def _event(
    event_id: str, kind: str, cid: str, second: int, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "candidate_id": cid,
        "occurred_at": START + timedelta(seconds=second),
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": payload,
    }


def _within_a_day(ids: list[str]) -> list[dict[str, Any]]:
    """Synthetic events (duplicates included), their times spread out of order over 09:01-16:00
    UTC of one day: shorter than every campaign wait and outside quiet hours, so no campaign
    timer comes due while the events are processed, however the worker batches them."""
    spec = LoadSpec(events=3_000, candidates=len(ids), run=RUN, seed=11)
    events = []
    for record in activity_events(spec):
        number = int(record["event_id"].rsplit("-", 1)[1])
        second = 60 + (number * 7_919) % (7 * 3600 - 60)
        events.append({**record, "occurred_at": START + timedelta(seconds=second)})
    return events


def test_live_rebuild_and_shadow_agree(
    kafka: KafkaSettings, harness: WorkerHarness, tmp_path: Path
) -> None:
    worker = _live_run(kafka, harness)
    group = harness.group
    changelog = changelog_topic(group)
    store_dir = harness.data_dir()
    rebuild_args = (
        "replay",
        "rebuild",
        "--from-beginning",
        "--yes",
        "--processes",
        "2",
        "--app-id",
        harness.app_id,
        "--data-dir",
        str(store_dir),
    )

    refused = nurture(kafka, *rebuild_args)
    assert refused.exit_code == 1, refused.output
    assert "active member" in refused.output

    live_engagement = published(kafka)
    wait_until(  # the live worker published every action before its offsets were committed
        lambda: _actions(kafka, kafka.topic(ACTION)) or None, what="live actions"
    )
    assert worker.stop() == 0, harness.logs()
    wait_until(lambda: not group_members(kafka, group), what="the group to be empty")
    live_rows = last_per_key(kafka, changelog)
    live_actions = _actions(kafka, kafka.topic(ACTION))
    assert not any(a["replay"] for a in live_actions)
    live_ids = sorted(a["action_id"] for a in live_actions)
    assert len(set(live_ids)) == len(live_ids) > 5
    assert len(live_engagement) == CANDIDATES
    assert (store_dir / group).exists()
    suppression = kafka.topic(SUPPRESSION)
    live_suppression = last_per_key(kafka, suppression)
    assert live_suppression, "the load has unsubscribes"
    live_suppression_records = len(read_all(kafka, suppression))

    rebuilt = nurture(kafka, *rebuild_args)
    assert rebuilt.exit_code == 0, rebuilt.output
    # The rebuild publishes each candidate's final unsubscribes once, equal to the live ones.
    assert len(read_all(kafka, suppression)) == live_suppression_records + len(live_suppression)
    assert last_per_key(kafka, suppression) == live_suppression
    assert not (store_dir / group).exists()
    assert last_per_key(kafka, changelog) == live_rows
    assert published(kafka) == live_engagement
    after = _actions(kafka, kafka.topic(ACTION))
    replayed = [a for a in after if a["replay"]]
    assert sorted(a["action_id"] for a in replayed) == live_ids
    for topic in (kafka.topic(ACTIVITY), kafka.topic(PROFILE)):
        assert all(c == end for c, end in group_offsets(kafka, group, topic).values())

    # Shadow with the live config: same records and ids in the sandbox, empty diff.
    summaries = tmp_path / "summaries"
    same = nurture(
        kafka,
        "replay",
        "shadow",
        "--name",
        "same",
        "--processes",
        "2",
        "--summary-dir",
        str(summaries),
    )
    assert same.exit_code == 0, same.output
    sandbox_engagement = {
        k.decode(): codec_for("engagement_record").decode(v)
        for k, v in last_per_key(kafka, kafka.topic(f"{ENGAGEMENT}.shadow-same")).items()
        if v is not None
    }
    assert sandbox_engagement == live_engagement
    shadow_ids = sorted(
        a["action_id"] for a in _actions(kafka, kafka.topic(f"{ACTION}.shadow-same"))
    )
    assert shadow_ids == live_ids
    diff = nurture(
        kafka, "replay", "diff", "--name", "same", "--json", "--summary-dir", str(summaries)
    )
    assert diff.exit_code == 0, diff.output
    report = json.loads(diff.output)
    assert report["empty"] is True
    assert report["candidates"] == CANDIDATES
    assert report["suppressions"], "the consent-less candidates' welcome e-mails are suppressed"

    # A changed model: the diff shows it (exit 3) with the score changes.
    model = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    model["version"] = "2025.1-rehearsal"
    model["weights"]["talent_pool_joined"] = 60
    changed_model = tmp_path / "model.yaml"
    changed_model.write_text(yaml.safe_dump(model))
    changed = nurture(
        kafka,
        "replay",
        "shadow",
        "--name",
        "changed",
        "--config",
        str(changed_model),
        "--summary-dir",
        str(summaries),
    )
    assert changed.exit_code == 0, changed.output
    diff = nurture(
        kafka, "replay", "diff", "--name", "changed", "--json", "--summary-dir", str(summaries)
    )
    assert diff.exit_code == 3, diff.output
    report = json.loads(diff.output)
    assert report["empty"] is False
    assert report["score_changes"]

    # A worker started after the rebuild recovers the rebuilt rows and goes on from them.
    restarted = answering(harness.worker().start(), harness, timeout_s=90)
    newest: dict[str, Any] = {
        "event_id": "after-rebuild",
        "type": "application_submitted",
        "candidate_id": candidate_id(1, RUN),
        "occurred_at": START + timedelta(days=30),
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": {"job_id": "job-1", "job_family": "engineering"},
    }
    publish(
        kafka,
        kafka.topic(ACTIVITY),
        [(newest["candidate_id"].encode(), activity_codec().encode(newest))],
    )
    harness.wait_caught_up(alive=restarted)
    expected = reference(load_model(), kafka)
    assert published(kafka) == expected
    assert expected[candidate_id(1, RUN)]["last_event_id"] == "after-rebuild"
