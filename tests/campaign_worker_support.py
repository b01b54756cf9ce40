"""A worker with a test's own campaigns on the test's topics, driven by the stream clock.

Shared by the campaign tests against the real broker (tests/test_worker_timers.py,
tests/test_worker_triggers_guards.py, tests/test_campaigns_simulate_kafka.py). On the stream
clock timers follow the latest event time of each partition, so a test moves time forward by
publishing a "clock" candidate's page views on the partition of its candidates
(:func:`ids_on_partition`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.codec import activity_codec, codec_for, encode
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, PROFILE
from streams.bench.loadgen import publish
from streams.scoring import load_model
from streams.worker.outbox import key_partition
from streams.worker.probe import WorkerProcess, wait_caught_up
from tests.kafka_helpers import read_all, unique, wait_until
from tests.worker_support import WorkerHarness, answering, metric_value

#: Monday 2025-03-03 10:00 UTC: 10:00 in London, 05:00 in New York, 19:00 in Tokyo.
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
PARTITIONS = 3  # tests/conftest.py creates every topic with 3 partitions

PAYLOADS: dict[str, dict[str, Any]] = {
    "talent_pool_joined": {"pool_id": "pool-1"},
    "page_viewed": {"url": "https://careers.example.com/jobs/1", "page_type": "job"},
    "application_submitted": {"job_id": "job-1", "job_family": "engineering"},
    "career_event_attended": {"career_event_id": "event-1"},
    "content_downloaded": {"content_id": "salary-guide"},
}


def applications_to_hot() -> int:
    """Same-day applications that take a fresh candidate to ``hot`` under the shipped scoring
    model (streams/scoring/default_model.yaml), at least two and within the daily cap. One
    more than the threshold strictly needs: the events are minutes apart and decay a little."""
    model = load_model()
    hot = next(t.min_score for t in model.tiers if t.name == "hot")
    weight = model.weights["application_submitted"]
    needed = int(hot // weight) + 1
    assert 1 < needed <= model.daily_caps["application_submitted"]
    return needed


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


def consent(
    granted_at: datetime = T0 - timedelta(days=30),
    *,
    expires_at: datetime | None = None,
    withdrawn_at: datetime | None = None,
) -> dict[str, Any]:
    """A granted consent (Avro dict of ``schemas.profile.Consent``)."""
    return {
        "granted": True,
        "granted_at": granted_at,
        "expires_at": expires_at,
        "withdrawn_at": withdrawn_at,
    }


def profile(
    candidate_id: str,
    time_zone: str = "Europe/London",
    *,
    consents: Mapping[str, dict[str, Any]] | None = None,
    interests: Sequence[str] = (),
    job_families: Sequence[str] = (),
    locations: Sequence[str] = (),
    updated_at: datetime = T0 - timedelta(days=30),
) -> dict[str, Any]:
    """A ``candidate_profile`` record (Avro dict); ``consents`` None: e-mail consent only."""
    return {
        "candidate_id": candidate_id,
        "contact": {"email": f"{candidate_id}@example.com"},
        "locale": "en-GB",
        "time_zone": time_zone,
        "interests": list(interests),
        "job_families": list(job_families),
        "locations": list(locations),
        "consents": {"email": consent()} if consents is None else dict(consents),
        "updated_at": updated_at,
        "source": "test",
    }


def profile_record(
    candidate_id: str, time_zone: str = "Europe/London", **fields: Any
) -> tuple[bytes, bytes]:
    """Key and value of :func:`profile` (``fields``: its keyword arguments)."""
    record = profile(candidate_id, time_zone, **fields)
    return candidate_id.encode(), encode("candidate_profile", record)


def event(candidate_id: str, kind: str, at: datetime, n: int = 0) -> dict[str, Any]:
    """An ``activity_event`` record (Avro dict) with the payload of ``PAYLOADS[kind]``."""
    return {
        "event_id": f"{candidate_id}-{kind}-{int(at.timestamp())}-{n}",
        "type": kind,
        "candidate_id": candidate_id,
        "occurred_at": at,
        "source": "test",
        "received_at": None,
        "correlation_id": None,
        "payload": PAYLOADS[kind],
    }


def event_record(candidate_id: str, kind: str, at: datetime, n: int = 0) -> tuple[bytes, bytes]:
    return candidate_id.encode(), activity_codec().encode(event(candidate_id, kind, at, n))


class TimerRun:
    """One worker with the test's campaigns on the test's topics, and its published actions."""

    def __init__(
        self,
        kafka: KafkaSettings,
        tmp: Path,
        clock: str,
        campaigns: dict[str, str],
        catalog: dict[str, str] | None = None,
    ):
        """``campaigns`` and ``catalog`` (None: the shipped catalog): YAML text by file name."""
        folder = tmp / "campaigns"
        folder.mkdir()
        for name, text in campaigns.items():
            (folder / f"{name}.yaml").write_text(text)
        env = {
            "NURTURE_WORKER_CLOCK": clock,
            "NURTURE_WORKER_CAMPAIGNS_PATH": str(folder),
            "NURTURE_WORKER_TIMER_INTERVAL_S": "0.5",
        }
        if catalog is not None:
            content = tmp / "catalog"
            content.mkdir()
            for name, text in catalog.items():
                (content / f"{name}.yaml").write_text(text)
            env["NURTURE_WORKER_CATALOG_PATH"] = str(content)
        self.kafka = kafka
        self.harness = WorkerHarness(
            kafka,
            tmp,
            unique("timers"),
            "memory://",
            env=env,
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

    def update(self, profiles: list[tuple[bytes, bytes]]) -> None:
        """Publish profile updates and wait until the worker committed past them (their
        decisions' actions are then on ``nurture.action``)."""
        publish(self.kafka, self.kafka.topic(PROFILE), profiles)
        try:
            wait_caught_up(
                self.kafka,
                self.harness.group,
                self.kafka.topic(PROFILE),
                timeout_s=60,
                alive=self.worker,
            )
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"{exc}\n--- worker logs ---\n{self.harness.logs()}") from exc

    def metric(self, name: str, labels: dict[str, str]) -> float:
        """A sample of the worker's ``/metrics`` (0 when absent)."""
        assert self.worker is not None, "start() first"
        return metric_value(self.worker.port, name, labels)

    def actions(self, candidate_id: str | None = None) -> list[dict[str, Any]]:
        decode = codec_for("nurture_action").decode
        found = [decode(m.value) for m in read_all(self.kafka, self.kafka.topic(ACTION))]
        return [a for a in found if candidate_id is None or a["candidate_id"] == candidate_id]

    def steps(self, candidate_id: str) -> list[str]:
        return [a["step_id"] for a in self.actions(candidate_id)]

    def close(self) -> None:
        self.harness.close()
