"""Pure rules: which records of a topic leave the candidate readable (docs/privacy.md).

* **readable** (verification fails): the latest, non-tombstoned record under the candidate's key
  in a compacted topic (profile, engagement, data keys, the worker's changelog), except the
  erasure marker; personal data in the clear anywhere (profiles written before
  ``candidate_profile`` v2, also in the dead-letter topic); a sealed contact whose data key is
  still live.
* **info**: pseudonymous records without PII that only expire with the topic's retention
  (activity, actions, outcomes, retries, dead letters), superseded records of compacted topics
  awaiting compaction, sealed contacts whose key is erased, the erasure marker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from deploy.erasure.findings import Finding, Severity
from schemas.codec import default_codec
from schemas.errors import SchemaError, SchemaRegistryUnavailableError
from schemas.privacy.contact import has_plaintext_contact, is_sealed
from schemas.privacy.data_keys import split_record_key
from schemas.privacy.errors import KeyRecordError
from schemas.schema_registry.codec import SingleObjectCodec, WireCodec


class ScannedRecord(NamedTuple):
    """A record keyed by the candidate, as read from a topic."""

    partition: int
    offset: int
    key: bytes
    value: bytes | None


def latest_by_key(records: Sequence[ScannedRecord]) -> dict[bytes, ScannedRecord]:
    """The last record per key (records of one key share a partition: offsets order them)."""
    latest: dict[bytes, ScannedRecord] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        latest[record.key] = record
    return latest


def live_key_ids(records: Sequence[ScannedRecord]) -> set[str]:
    """Key ids of the candidate's data keys whose latest record is not a tombstone."""
    live: set[str] = set()
    for key, record in latest_by_key(records).items():
        if record.value is not None:
            try:
                live.add(split_record_key(key.decode("utf-8", "replace"))[1])
            except KeyRecordError:
                continue
    return live


def key_topic_findings(place: str, records: Sequence[ScannedRecord]) -> list[Finding]:
    live = live_key_ids(records)
    if not live:
        return []
    return [
        Finding(
            place, "readable", "live data key (contacts sealed with it can be opened)", len(live)
        )
    ]


def profile_findings(
    place: str,
    records: Sequence[ScannedRecord],
    live_keys: set[str],
    *,
    compacted: bool,
    wire: WireCodec | None = None,
) -> list[Finding]:
    """Findings of the profile topic (compacted) or its dead-letter topic (not compacted),
    read with ``wire`` (None: single-object frames only; in Schema Registry mode both
    framings). A registry that does not answer is no reason to call a record unreadable: its
    :class:`SchemaRegistryUnavailableError` is raised (the check could not be made)."""
    counts: Counter[tuple[Severity, str]] = Counter()
    codec = wire or SingleObjectCodec(default_codec())
    for record in records:
        if record.value is None:
            continue
        try:
            decoded = codec.decode(record.value)
        except SchemaRegistryUnavailableError:
            raise
        except SchemaError:
            counts["info", "undecodable record (cannot be read as a profile)"] += 1
            continue
        if decoded.subject != "candidate_profile":
            continue
        if has_plaintext_contact(decoded.record):
            counts["readable", "contact in the clear (profile written before v2)"] += 1
        elif is_sealed(decoded.record):
            key_id = str(decoded.record["sealed_contact"]["key_id"])
            if key_id in live_keys:
                counts["readable", "sealed contact whose data key is live"] += 1
            else:
                counts["info", "sealed contact whose data key is erased (unreadable)"] += 1
    findings = [Finding(place, sev, what, n) for (sev, what), n in sorted(counts.items())]
    if compacted:
        findings.extend(_latest_profile(place, records, codec))
    return findings


def _latest_profile(
    place: str, records: Sequence[ScannedRecord], codec: WireCodec
) -> Iterable[Finding]:
    for record in latest_by_key(records).values():
        if record.value is None:
            continue
        try:
            subject = codec.decode(record.value).subject
        except SchemaRegistryUnavailableError:
            raise
        except SchemaError:
            subject = "undecodable"
        if subject == "erasure_request":
            yield Finding(place, "info", "erasure marker is the latest record (no PII)")
        else:
            yield Finding(place, "readable", f"live {subject} record (latest under the key)")


def compacted_findings(place: str, records: Sequence[ScannedRecord]) -> list[Finding]:
    """Findings of a compacted topic without PII (engagement, the worker's changelog)."""
    latest = latest_by_key(records)
    findings = [
        Finding(place, "readable", "live record (latest under the candidate's key)")
        for record in latest.values()
        if record.value is not None
    ]
    superseded = len(records) - len(latest)
    if superseded:
        findings.append(
            Finding(place, "info", "superseded records awaiting compaction (no PII)", superseded)
        )
    return findings


def history_findings(
    place: str, records: Sequence[ScannedRecord], retention_days: int | None
) -> list[Finding]:
    """Findings of a delete-policy topic: pseudonymous history that expires with retention."""
    if not records:
        return []
    expiry = (
        "never expires" if retention_days in (None, -1) else f"expires within {retention_days} days"
    )
    return [Finding(place, "info", f"pseudonymous records without PII ({expiry})", len(records))]
