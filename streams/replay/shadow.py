"""`nurture replay shadow`: rehearse a model or campaign change on real history, in a sandbox.

A shadow run replays ``candidate.activity`` and ``candidate.profile`` up to ``--to`` with the
given configuration into its own topics, ``candidate.engagement.shadow-<name>`` and
``nurture.action.shadow-<name>`` (nothing delivers from them; actions are ``replay: true``
besides), with its own state (in memory, per partition). It reads by partition assignment, with
no consumer group, so it never touches the live worker's group, changelog or outputs.

Records before ``--from`` are a warm-up: they build the state
(so scores at ``--from`` include the full history, as live ones do) but their decisions are not
emitted or counted. The run's summary (range, configuration, counts, the triggers inside the
window) is written to ``<summary dir>/shadow-<name>.json`` for `nurture replay diff`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from platformdirs import user_data_path

from schemas.kafka_seam import topic_admin
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ENGAGEMENT, TOPICS
from streams.replay.counts import ReplayCounts
from streams.replay.errors import ReplayError
from streams.replay.planning import plan_jobs
from streams.replay.processing import ReplayOptions
from streams.replay.runner import (
    ConfigFiles,
    OutputTopics,
    PartitionJob,
    Progress,
    replay_spec,
    run_jobs,
)
from streams.worker.settings import WorkerSettings

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SUMMARY_DIR = user_data_path("candidate-nurture") / "replay"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ReplayError(f"shadow name {name!r}: use 1-40 of a-z, 0-9 and '-'")
    return name


def sandbox_topics(kafka: KafkaSettings, name: str) -> OutputTopics:
    """The sandbox's output topics (full names)."""
    return OutputTopics(
        engagement=kafka.topic(f"{ENGAGEMENT}.shadow-{name}"),
        action=kafka.topic(f"{ACTION}.shadow-{name}"),
    )


@dataclass
class ShadowSummary:
    """What `replay diff` needs to know about a shadow run."""

    name: str
    from_ms: int | None
    to_ms: int | None
    model_path: str | None
    campaigns_path: str | None
    catalog_path: str | None
    counts: ReplayCounts
    seconds: float
    #: ``candidate\\x1ftrigger id`` of every record in the window (see processing.trigger_key).
    triggers: set[str] = field(default_factory=set)

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "name": self.name,
            "from_ms": self.from_ms,
            "to_ms": self.to_ms,
            "model_path": self.model_path,
            "campaigns_path": self.campaigns_path,
            "catalog_path": self.catalog_path,
            "counts": self.counts.to_dict(),
            "seconds": self.seconds,
            "triggers": sorted(self.triggers),
        }
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, data: bytes) -> ShadowSummary:
        raw = orjson.loads(data)
        return cls(
            name=raw["name"],
            from_ms=raw["from_ms"],
            to_ms=raw["to_ms"],
            model_path=raw["model_path"],
            campaigns_path=raw["campaigns_path"],
            catalog_path=raw["catalog_path"],
            counts=ReplayCounts.from_dict(raw["counts"]),
            seconds=raw["seconds"],
            triggers=set(raw["triggers"]),
        )


def summary_path(summary_dir: Path, name: str) -> Path:
    return summary_dir / f"shadow-{name}.json"


def load_summary(summary_dir: Path, name: str) -> ShadowSummary:
    path = summary_path(summary_dir, name)
    if not path.exists():
        raise ReplayError(f"no shadow run {name!r} ({path} missing): run `nurture replay shadow`")
    return ShadowSummary.from_json(path.read_bytes())


def prepare_sandbox(kafka: KafkaSettings, name: str, *, replace: bool) -> OutputTopics:
    """Create the sandbox topics (refuse existing ones unless ``replace``: then empty them)."""
    topics = sandbox_topics(kafka, name)
    names = [t for t in (topics.engagement, topics.action) if t is not None]
    existing = topic_admin.describe(kafka, names)
    if existing and not replace:
        raise ReplayError(
            f"sandbox {name!r} exists ({', '.join(sorted(existing))}): pass --replace to run it "
            "again, or `nurture replay drop` it"
        )
    with topic_admin.admin_client(kafka) as admin:
        if existing:
            topic_admin.delete_topics(admin, sorted(existing))
            _wait_gone(admin, set(existing))
        specs = {spec.name: spec for spec in TOPICS}
        requests = {
            topics.engagement: specs[ENGAGEMENT],
            topics.action: specs[ACTION],
        }
        replication = kafka.replication_for(topic_admin.broker_count(admin))
        for topic, spec in requests.items():
            if topic is None:
                continue
            configs = topic_admin.expected_configs(spec, replication)
            partitions = kafka.topic_partitions
            if not topic_admin.create_topic(
                admin, topic, partitions, replication, configs, wait=True
            ):
                raise ReplayError(f"sandbox topic {topic} exists still after it was deleted")
    return topics


def drop_sandbox(kafka: KafkaSettings, name: str, summary_dir: Path) -> list[str]:
    """Delete the sandbox topics and the summary; return the topics deleted."""
    topics = sandbox_topics(kafka, name)
    names = [t for t in (topics.engagement, topics.action) if t is not None]
    existing = sorted(topic_admin.describe(kafka, names))
    if existing:
        with topic_admin.admin_client(kafka) as admin:
            topic_admin.delete_topics(admin, existing)
    summary_path(summary_dir, name).unlink(missing_ok=True)
    return existing


def plan_shadow(kafka: KafkaSettings, from_ms: int | None, to_ms: int | None) -> list[PartitionJob]:
    if from_ms is not None and to_ms is not None and to_ms <= from_ms:
        raise ReplayError("--to must be later than --from")
    return plan_jobs(kafka, from_ms=from_ms, to_ms=to_ms, warm_up=True)


def run_shadow(  # noqa: PLR0913 - the sandbox run the CLI composes: window, files, outputs, progress
    kafka: KafkaSettings,
    name: str,
    jobs: list[PartitionJob],
    outputs: OutputTopics,
    live: WorkerSettings,
    *,
    from_ms: int | None,
    to_ms: int | None,
    files: ConfigFiles,
    summary_dir: Path = SUMMARY_DIR,
    processes: int = 1,
    progress: Progress | None = None,
    schema_registry: SchemaRegistrySettings | None = None,
) -> ShadowSummary:
    """Replay ``jobs`` into the sandbox ``outputs``; write and return the summary. ``live`` is
    the live worker's settings (its erasure secret), ``schema_registry`` the deployment's
    framing (None or no URL: single-object)."""
    spec = replay_spec(
        kafka,
        outputs,
        live,
        files,
        ReplayOptions(collect_triggers=True, schema_registry=schema_registry),
    )
    codecs = spec.codecs()
    started = time.perf_counter()
    result = run_jobs(spec, jobs, processes=processes, progress=progress, codecs=codecs)
    summary = ShadowSummary(
        name=name,
        from_ms=from_ms,
        to_ms=to_ms,
        model_path=None if files.model is None else str(files.model),
        campaigns_path=None if files.campaigns is None else str(files.campaigns),
        catalog_path=None if files.catalog is None else str(files.catalog),
        counts=result.counts,
        seconds=time.perf_counter() - started,
        triggers=result.triggers,
    )
    summary_dir.mkdir(parents=True, exist_ok=True)
    summary_path(summary_dir, name).write_bytes(summary.to_json())
    return summary


def _wait_gone(admin: Any, names: set[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while names & set(admin.list_topics()):
        if time.monotonic() > deadline:
            raise ReplayError(f"topics not deleted after {timeout_s:.0f}s: {sorted(names)}")
        time.sleep(0.2)
