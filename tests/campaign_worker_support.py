"""A worker with a test's own campaigns on the test's topics, driven by the stream clock.

Shared by the campaign tests against the real broker (tests/test_worker_timers.py,
tests/test_worker_guards.py, ...). On the stream clock timers follow the latest event time of
each partition, so a test moves time forward by publishing a "clock" candidate's page views on
the partition of its candidates (:func:`ids_on_partition`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.codec import activity_codec, codec_for, encode
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, PROFILE
from streams.loadgen import publish
from streams.worker.outbox import key_partition
from streams.worker.probe import WorkerProcess
from tests.kafka_helpers import read_all, unique, wait_until
from tests.worker_support import WorkerHarness, answering, metric_value

#: Monday 2025-03-03 10:00 UTC: 10:00 in London, 05:00 in New York, 19:00 in Tokyo.
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
PARTITIONS = 3  # tests/conftest.py creates every topic with 3 partitions

PAYLOADS: dict[str, dict[str, Any]] = {
    "talent_pool_joined": {"pool_id": "pool-1"},
    "page_viewed": {"url": "https://careers.example.com/jobs/1", "page_type": "job"},
    "application_submitted": {"job_id": "job-1", "job_family": "engineering"},
}


def ids_on_partition(prefix: str, count: int, partition: int = 0) -> list[str]:
    """``count`` candidate ids whose events land on ``partition`` (the stream clock is kept
    per partition: the clock candidate must share it with the others)."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        candidate = f"{prefix}-{n}"
        if key_partition(candidate.encode(), PARTITIONS) == partition:
            found.append(candidate)
        n += 1
    return found


def profile_record(candidate_id: str, time_zone: str = "Europe/London") -> tuple[bytes, bytes]:
    granted = {"granted": True, "granted_at": T0 - timedelta(days=30)}
    record = {
        "candidate_id": candidate_id,
        "contact": {"email": f"{candidate_id}@example.com"},
        "locale": "en-GB",
        "time_zone": time_zone,
        "consents": {"email": granted},
        "updated_at": T0 - timedelta(days=30),
        "source": "test",
    }
    return candidate_id.encode(), encode("candidate_profile", record)


def event_record(candidate_id: str, kind: str, at: datetime, n: int = 0) -> tuple[bytes, bytes]:
    record = {
        "event_id": f"{candidate_id}-{kind}-{int(at.timestamp())}-{n}",
        "type": kind,
        "candidate_id": candidate_id,
        "occurred_at": at,
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": PAYLOADS[kind],
    }
    return candidate_id.encode(), activity_codec().encode(record)


class TimerRun:
    """One worker with the test's campaigns on the test's topics, and its published actions."""

    def __init__(self, kafka: KafkaSettings, tmp: Path, clock: str, campaigns: dict[str, str]):
        folder = tmp / "campaigns"
        folder.mkdir()
        for name, text in campaigns.items():
            (folder / f"{name}.yaml").write_text(text)
        self.kafka = kafka
        self.harness = WorkerHarness(
            kafka,
            tmp,
            unique("timers"),
            "memory://",
            env={
                "NURTURE_WORKER_CLOCK": clock,
                "NURTURE_WORKER_CAMPAIGNS_PATH": str(folder),
                "NURTURE_WORKER_TIMER_INTERVAL_S": "0.5",
            },
        )
        self.worker: WorkerProcess | None = None

    def start(self, profiles: list[tuple[bytes, bytes]]) -> None:
        publish(self.kafka, self.kafka.topic(PROFILE), profiles)
        self.worker = answering(self.harness.worker().start(), self.harness)
        port = self.worker.port

        def kept() -> bool:
            labels = {"outcome": "profile"}
            return metric_value(port, "nurture_worker_profile_records_total", labels) >= len(
                profiles
            )

        wait_until(kept, timeout_s=60, what="the profiles in the worker's rows")

    def send(self, events: list[tuple[bytes, bytes]]) -> None:
        """Publish ``events`` and wait until the worker committed past them."""
        publish(self.kafka, self.kafka.topic(ACTIVITY), events)
        self.harness.wait_caught_up(alive=self.worker)

    def actions(self, candidate_id: str | None = None) -> list[dict[str, Any]]:
        decode = codec_for("nurture_action").decode
        found = [decode(m.value) for m in read_all(self.kafka, self.kafka.topic(ACTION))]
        return [a for a in found if candidate_id is None or a["candidate_id"] == candidate_id]

    def steps(self, candidate_id: str) -> list[str]:
        return [a["step_id"] for a in self.actions(candidate_id)]

    def close(self) -> None:
        self.harness.close()
