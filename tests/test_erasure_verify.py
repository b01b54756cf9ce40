"""`nurture erase` and `nurture erasure verify` against the real broker and a real worker.

Before the erasure verify lists what is readable (exit 1); after it, once the worker has acted,
nothing is (exit 0) while the pseudonymous activity history is reported as information.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.erasure.verify import VerifyOptions, verify
from producers import NurtureProducer
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ENGAGEMENT, KEYS, PROFILE
from streams.worker.probe import WorkerProcess
from tests.kafka_helpers import unique, wait_until
from tests.test_delivery_support import profile
from tests.test_producers_sdk import page_view
from tests.worker_support import WorkerHarness

pytestmark = pytest.mark.kafka


@pytest.fixture
def harness(kafka: KafkaSettings, tmp_path: Path) -> Iterator[WorkerHarness]:
    harness = WorkerHarness(kafka, tmp_path, unique("erase"), store="memory://")
    yield harness
    harness.close()


def started(harness: WorkerHarness) -> WorkerProcess:
    worker = harness.worker().start()

    def answers() -> bool:
        try:
            url = f"http://127.0.0.1:{worker.port}/v1/health"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            assert worker.exit_code() is None, harness.logs()
            return False

    wait_until(answers, timeout_s=60, what="the worker's web server")
    return worker


def cli(kafka: KafkaSettings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "deploy.cli.main",
        "--bootstrap",
        kafka.bootstrap_servers,
        "--topic-prefix",
        kafka.topic_prefix,
        *args,
    ]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def readable_places(report: dict[str, Any]) -> set[str]:
    return {f["place"] for f in report["findings"] if f["severity"] == "readable"}


def test_verify_lists_what_is_readable_then_nothing_after_erase(
    kafka: KafkaSettings, harness: WorkerHarness, tmp_path: Path
) -> None:
    cid, bystander = unique("cand"), unique("cand")
    worker = started(harness)
    base = f"http://127.0.0.1:{worker.port}"
    with NurtureProducer(kafka) as producer:
        for candidate in (cid, bystander):
            producer.upsert_profile(profile(candidate)).get(timeout=20)
            producer.send_many([page_view(candidate) for _ in range(3)])

    def engaged() -> bool:
        return httpx.get(f"{base}/v1/candidates/{cid}/engagement", timeout=5).status_code == 200

    wait_until(engaged, timeout_s=60, what="the worker's engagement row")
    topics_only = [cid, "--worker-app-id", harness.app_id, "--json"]
    topics_only += ["--delivery-dir", str(tmp_path / "no-delivery-here")]
    options = [*topics_only, "--worker-url", base]

    before = cli(kafka, "erasure", "verify", *options)
    assert before.returncode == 1, before.stdout + before.stderr
    report = json.loads(before.stdout)
    assert readable_places(report) >= {
        kafka.topic(PROFILE),
        kafka.topic(KEYS),
        kafka.topic(ENGAGEMENT),
        f"{kafka.topic_prefix}{harness.app_id}-candidates-changelog",
        "worker",
    }
    assert "example.org" not in before.stdout  # the report itself never shows PII

    started_at = time.monotonic()
    erased = cli(kafka, "erase", cid, "--reason", "gdpr_art17")
    assert erased.returncode == 0, erased.stderr
    assert "1 data key(s) deleted" in erased.stdout

    def clean() -> bool:
        found = verify(
            kafka,
            VerifyOptions(cid, worker_app_id=harness.app_id, worker_url=base, timeout_s=30),
        )
        return found.exit_code == 0

    # The bound for the local setup: erased everywhere within a minute.
    wait_until(clean, timeout_s=60, interval_s=1.0, what="nothing readable after the erasure")
    print(f"erasure complete {time.monotonic() - started_at:.1f}s after `nurture erase` started")
    after = cli(kafka, "erasure", "verify", *options)
    assert after.returncode == 0, after.stdout + after.stderr
    report = json.loads(after.stdout)
    assert readable_places(report) == set() and report["errors"] == []
    info = {(f["place"], f["what"]) for f in report["findings"]}
    assert (kafka.topic(PROFILE), "erasure marker is the latest record (no PII)") in info
    assert any(place == kafka.topic(ACTIVITY) for place, _ in info)  # history, as information
    # The bystander is untouched: still readable everywhere.
    other = verify(kafka, VerifyOptions(bystander, worker_app_id=harness.app_id, worker_url=base))
    assert other.exit_code == 1
    assert worker.exit_code() is None, harness.logs()

    # A rebuild replays every retained record; the erased candidate must not come back.
    worker.stop()
    rebuild = ["replay", "rebuild", "--from-beginning", "--yes", "--processes", "1"]
    rebuild += ["--app-id", harness.app_id, "--data-dir", str(harness.data_dir())]

    def rebuilt() -> bool:  # refused (exit 1) until the stopped worker has left its group
        done = cli(kafka, *rebuild)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode == 0

    wait_until(rebuilt, timeout_s=90, interval_s=2.0, what="the rebuild")
    replayed = cli(kafka, "erasure", "verify", *topics_only)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    kept = verify(kafka, VerifyOptions(bystander, worker_app_id=harness.app_id))
    assert kept.exit_code == 1  # the rebuild did bring the bystander back
