"""Pure rules of `nurture erasure verify` and its delivery store check (no broker)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from consumers.store import DeliveryStore
from deploy.erasure.classify import (
    ScannedRecord,
    compacted_findings,
    history_findings,
    key_topic_findings,
    live_key_ids,
    profile_findings,
)
from deploy.erasure.findings import Finding, Report
from deploy.erasure.state_checks import delivery_store_findings
from schemas.catalog import default_catalog
from schemas.codec import Codec, default_codec
from schemas.models import parse_profile
from schemas.privacy.contact import seal_profile
from schemas.privacy.data_keys import new_data_key
from tests.test_delivery_support import action

T0 = datetime(2025, 3, 1, tzinfo=UTC)
PROFILE = parse_profile(
    {"candidate_id": "c1", "contact": {"email": "c1@example.org"}, "updated_at": T0, "source": "t"}
).to_avro()
ERASURE = default_codec().encode(
    "erasure_request",
    {"request_id": "r1", "candidate_id": "c1", "requested_at": T0, "source": "t", "reason": None},
)


def rec(offset: int, value: bytes | None, key: bytes = b"c1", partition: int = 0) -> ScannedRecord:
    return ScannedRecord(partition, offset, key, value)


def severities(findings: list[Finding]) -> dict[str, str]:
    return {f.what: f.severity for f in findings}


def test_live_keys_are_readable_and_tombstoned_ones_are_gone() -> None:
    records = [rec(0, b"{}", b"c1/k1"), rec(1, b"{}", b"c1/k2"), rec(2, None, b"c1/k1")]
    assert live_key_ids(records) == {"k2"}
    assert [f.count for f in key_topic_findings("keys", records)] == [1]
    assert key_topic_findings("keys", [*records, rec(3, None, b"c1/k2")]) == []


def test_profiles_plaintext_is_readable_sealed_depends_on_its_key() -> None:
    key = new_data_key("c1")
    sealed = default_codec().encode("candidate_profile", seal_profile(PROFILE, key))
    v1 = Codec(default_catalog(), reader_versions={"candidate_profile": 1})
    plain = v1.encode(
        "candidate_profile", {k: v for k, v in PROFILE.items() if k != "sealed_contact"}
    )
    records = [rec(0, plain), rec(1, sealed), rec(2, ERASURE)]
    with_key = severities(profile_findings("p", records, {key.key_id}, compacted=True))
    assert with_key == {
        "contact in the clear (profile written before v2)": "readable",
        "sealed contact whose data key is live": "readable",
        "erasure marker is the latest record (no PII)": "info",
    }
    shredded = profile_findings("p", records[1:], set(), compacted=True)
    assert all(f.severity == "info" for f in shredded)
    live = profile_findings("p", records[1:2], set(), compacted=True)
    assert "live candidate_profile record (latest under the key)" in severities(live)


def test_compacted_latest_is_readable_until_tombstoned_history_is_information() -> None:
    assert severities(compacted_findings("e", [rec(0, b"x"), rec(1, b"y")])) == {
        "live record (latest under the candidate's key)": "readable",
        "superseded records awaiting compaction (no PII)": "info",
    }
    assert [f.severity for f in compacted_findings("e", [rec(0, b"x"), rec(1, None)])] == ["info"]
    [history] = history_findings("a", [rec(0, b"x"), rec(1, b"y")], 400)
    assert (history.severity, history.count) == ("info", 2) and "400 days" in history.what


def test_report_exit_codes() -> None:
    assert Report("c").exit_code == 0
    assert Report("c", [Finding("x", "info", "y")]).exit_code == 0
    assert Report("c", errors=["worker unreachable"]).exit_code == 2
    assert Report("c", [Finding("x", "readable", "y")], ["e"]).exit_code == 1


def test_delivery_store_pending_rows_are_readable_final_ones_information(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path, "webhook")
    try:
        codec = default_codec()
        pending, done, other = action("c1"), action("c1"), action("c2")
        store.mark_sending(pending.action_id, 1, codec.encode("nurture_action", pending.to_avro()))
        store.mark_sending(other.action_id, 1, codec.encode("nurture_action", other.to_avro()))
        store.mark_final(
            done.action_id, "suppressed", 1, codec.encode("nurture_action", done.to_avro())
        )
        found = {f.what: (f.severity, f.count) for f in delivery_store_findings(tmp_path, "c1")}
    finally:
        store.close()
    assert found == {
        "pending delivery of an action": ("readable", 1),
        "final delivery outcomes (pseudonymous, no PII)": ("info", 1),
    }
