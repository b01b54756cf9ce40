"""Scan every topic and the reachable state for what is still readable of one candidate.

What counts as readable, and why, is in :mod:`deploy.erasure.classify` and docs/privacy.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deploy.erasure.classify import (
    ScannedRecord,
    compacted_findings,
    history_findings,
    key_topic_findings,
    live_key_ids,
    profile_findings,
)
from deploy.erasure.findings import Finding, Report
from deploy.erasure.state_checks import CheckError, delivery_store_findings, worker_findings
from deploy.erasure.topic_scan import scan_topics
from schemas.errors import NurtureError, SchemaRegistryUnavailableError
from schemas.privacy.data_keys import owns
from schemas.schema_registry.codec import WireCodec
from schemas.settings import KafkaSettings
from schemas.topics import DAY_MS, KEYS, PROFILE, PROFILE_DLQ, TOPICS, TopicSpec

#: The worker's candidate table changelog, after the topic prefix and the worker's app id.
CHANGELOG_SUFFIX = "-candidates-changelog"


@dataclass(frozen=True)
class VerifyOptions:
    """What to check besides the declared topics."""

    candidate_id: str
    #: The worker's app id (``NURTURE_WORKER_APP_ID``): names its changelog topic.
    worker_app_id: str = "nurture-worker"
    #: A worker's base URL; None skips the HTTP check.
    worker_url: str | None = None
    #: Directories of delivery stores (``NURTURE_DELIVERY_DATA_DIR``) to look into.
    delivery_dirs: tuple[Path, ...] = field(default_factory=tuple)
    timeout_s: float = 60.0
    #: How Avro records are read: the deployment's codec (Schema Registry mode: both
    #: framings); None: single-object frames only.
    wire: WireCodec | None = None


def changelog_topic(kafka: KafkaSettings, worker_app_id: str) -> str:
    return f"{kafka.topic_prefix}{worker_app_id}{CHANGELOG_SUFFIX}"


def verify(kafka: KafkaSettings, options: VerifyOptions) -> Report:
    """The report for ``options.candidate_id`` (see :class:`Report` for the exit codes)."""
    cid = options.candidate_id
    report = Report(cid)
    key = cid.encode()
    keys_topic = kafka.topic(KEYS)
    changelog = changelog_topic(kafka, options.worker_app_id)
    full = {kafka.topic(spec.name): spec for spec in TOPICS}

    def keep(topic: str, record_key: bytes | None) -> bool:
        return owns(cid, record_key) if topic == keys_topic else record_key == key

    try:
        scanned, missing = scan_topics(kafka, [*full, changelog], keep, timeout_s=options.timeout_s)
    except NurtureError as exc:
        report.errors.append(f"topics not scanned: {exc}")
        scanned, missing = {}, []
    for topic in missing:
        if topic == changelog:
            report.errors.append(f"{topic} does not exist (worker app id {options.worker_app_id}?)")
        else:
            report.errors.append(f"{topic} does not exist")
    scan = _Scan(full, changelog, live_key_ids(scanned.get(keys_topic, [])), options.wire)
    for topic, records in scanned.items():
        try:
            report.findings.extend(_topic_findings(topic, records, scan))
        except SchemaRegistryUnavailableError as exc:
            report.errors.append(f"{topic} not checked: {exc}")
    if options.worker_url is not None:
        try:
            report.findings.extend(
                worker_findings(options.worker_url, cid, timeout_s=min(options.timeout_s, 10.0))
            )
        except CheckError as exc:
            report.errors.append(str(exc))
    for directory in options.delivery_dirs:
        try:
            report.findings.extend(delivery_store_findings(directory, cid, options.wire))
        except CheckError as exc:
            report.errors.append(str(exc))
    return report


@dataclass(frozen=True)
class _Scan:
    """What classifies the scanned topics' records."""

    #: Declared topics by full name.
    declared: dict[str, TopicSpec]
    changelog: str
    #: Data key ids still live on the key topic.
    live_keys: set[str]
    wire: WireCodec | None


def _topic_findings(topic: str, records: list[ScannedRecord], scan: _Scan) -> list[Finding]:
    if topic == scan.changelog:
        return compacted_findings(topic, records)
    spec = scan.declared[topic]
    if spec.name == KEYS:
        return key_topic_findings(topic, records)
    if spec.name in (PROFILE, PROFILE_DLQ):
        return profile_findings(
            topic, records, scan.live_keys, compacted=spec.name == PROFILE, wire=scan.wire
        )
    if "compact" in spec.cleanup_policy:
        return compacted_findings(topic, records)
    retention = spec.retention_ms()
    days = None if retention is None or retention < 0 else retention // DAY_MS
    return history_findings(topic, records, days)
