"""Helpers of the worker tests: worker child processes, the reference score, reading outputs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from schemas.codec import activity_codec, codec_for
from schemas.errors import SchemaError
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ENGAGEMENT
from streams.scoring.config import ScoringModel
from streams.scoring.state import EngagementState, new_state
from streams.scoring.update import apply_event, engagement_record
from streams.worker.engagement import ActivityItem, scoring_input
from streams.worker.outbox import key_partition
from streams.worker.probe import WorkerProcess, free_port, wait_caught_up
from tests.kafka_helpers import read_all, wait_until


def worker_env(
    kafka: KafkaSettings, app_id: str, data_dir: Path, port: int, store: str = "rocksdb://"
) -> dict[str, str]:
    return {
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_WORKER_APP_ID": app_id,
        "NURTURE_WORKER_DATA_DIR": str(data_dir),
        "NURTURE_WORKER_WEB_PORT": str(port),
        "NURTURE_WORKER_STORE": store,
        "NURTURE_WORKER_COMMIT_INTERVAL_S": "0.5",
        "NURTURE_WORKER_SESSION_TIMEOUT_S": "6",
        "NURTURE_WORKER_LOG_LEVEL": "warning",
    }


class WorkerHarness:
    """Workers of one app id on one test's topics (each with its own data dir and port)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        tmp: Path,
        app_id: str,
        store: str = "rocksdb://",
        env: dict[str, str] | None = None,
    ):
        self.kafka = kafka
        #: Extra worker settings (``NURTURE_WORKER_*``) of every worker of this harness.
        self.env = env or {}
        self.tmp = tmp
        self.app_id = app_id
        self.store = store
        self.group = f"{kafka.topic_prefix}{app_id}"
        self.workers: list[WorkerProcess] = []

    def worker(self, name: str = "w1") -> WorkerProcess:
        port = free_port()
        env = worker_env(self.kafka, self.app_id, self.tmp / name, port, self.store)
        env.update(self.env)
        process = WorkerProcess(env, self.tmp / f"{name}.log")
        self.workers.append(process)
        return process

    def data_dir(self, name: str = "w1") -> Path:
        return self.tmp / name

    def wait_caught_up(self, alive: WorkerProcess | None = None, timeout_s: float = 120.0) -> None:
        try:
            wait_caught_up(
                self.kafka,
                self.group,
                self.kafka.topic(ACTIVITY),
                timeout_s=timeout_s,
                alive=alive,
            )
        except (TimeoutError, RuntimeError) as exc:
            # What each running worker says it waits for, before its log is read.
            states = "".join(
                f"== {w.log_path.name} state\n{w.state_report()}\n" for w in self.workers
            )
            raise AssertionError(
                f"{exc}\n--- worker states ---\n{states}--- worker logs ---\n{self.logs()}"
            ) from exc

    def logs(self, tail: int = 3000) -> str:
        texts = []
        for log in sorted(self.tmp.glob("*.log")):
            texts.append(f"== {log.name}\n{log.read_text(errors='replace')[-tail:]}")
        return "\n".join(texts)

    def close(self) -> None:
        for process in self.workers:
            process.kill()


def reference(model: ScoringModel, kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
    """Engagement record per candidate computed directly from candidate.activity's records.

    Applies every decodable event once per occurrence, in offset order per partition, with the
    same pure functions the worker uses; records then go through the codec, as the output does.
    Records the worker dead-letters are left out: another key than the candidate id, or a
    partition the key does not hash to.
    """
    decode = activity_codec().decode
    states: dict[str, EngagementState] = {}
    for message in sorted(
        read_all(kafka, kafka.topic(ACTIVITY), timeout_s=60), key=lambda m: (m.partition, m.offset)
    ):
        try:
            record = decode(message.value)
        except SchemaError:
            continue
        if message.key != record["candidate_id"].encode():
            continue
        if key_partition(message.key, kafka.topic_partitions) != message.partition:
            continue
        state = states.setdefault(record["candidate_id"], new_state())
        apply_event(
            model, state, scoring_input(ActivityItem(record, message.partition, message.offset))
        )
    codec = codec_for("engagement_record")
    return {
        cid: codec.decode(codec.encode(engagement_record(model, cid, state)))
        for cid, state in states.items()
    }


def published(kafka: KafkaSettings) -> dict[str, dict[str, Any] | None]:
    """The last record per candidate on candidate.engagement (None for a tombstone)."""
    decode = codec_for("engagement_record").decode
    latest: dict[str, dict[str, Any] | None] = {}
    for message in read_all(kafka, kafka.topic(ENGAGEMENT), timeout_s=60):
        latest[message.key.decode()] = None if message.value is None else decode(message.value)
    return latest


def differences(
    expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any] | None]
) -> list[str]:
    """Human-readable differences (first few) between reference and published records."""
    problems = []
    for cid in sorted(set(expected) | set(actual)):
        if expected.get(cid) != actual.get(cid):
            problems.append(f"{cid}: expected {expected.get(cid)}\n   got {actual.get(cid)}")
    return problems


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def metric_value(port: int, name: str, labels: dict[str, str]) -> float:
    """The value of a sample of the worker's ``/metrics`` (0 when it has no such sample)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def answering(
    worker: WorkerProcess, harness: WorkerHarness, timeout_s: float = 60.0
) -> WorkerProcess:
    """``worker`` once its web server answers (fails with the logs if it exits first)."""

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{worker.port}/v1/health", timeout=1).is_success
        except httpx.HTTPError:
            assert worker.exit_code() is None, harness.logs()
            return False

    wait_until(answers, timeout_s=timeout_s, what="the worker's web server")
    return worker
