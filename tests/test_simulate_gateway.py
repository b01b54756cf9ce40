"""`nurture simulate --via gateway`: through a real gateway to the real broker, and retries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner

from consumers.keyring import KeyRing
from deploy.cli.main import app
from producers.gateway.app import create_app
from producers.records import RecordEncoder
from producers.simulate import SimRecord
from producers.simulate.via_gateway import GatewaySender, SourceKeys, send_via_gateway
from schemas.codec import decode, encode
from schemas.privacy.contact import open_profile
from schemas.privacy.settings import load_privacy_settings
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from tests.test_gateway_support import KEYS, gateway_settings, records_on, serving

#: Keys of the simulator's other sources (the gateway already has KEYS for career-site and ats).
MORE_KEYS = {
    "esp": "esp-key-0123456789abcdef",
    "events-platform": "events-key-0123456789abc",
    "crm": "crm-key-0123456789abcdef",
}
SIM = ["simulate", "--seed", "9", "--candidates", "12", "--events", "150", "--end", "2025-06-01"]


def keys_file(path: Path, keys: dict[str, str]) -> Path:
    path.write_text("# test keys\n" + "".join(f"{s}={k}\n" for s, k in keys.items()))
    return path


def expected_from_file(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The file output of the same seed, encoded and decoded like the records on Kafka."""
    out = tmp_path / "sim.jsonl"
    result = CliRunner().invoke(app, [*SIM, "--output", str(out)])
    assert result.exit_code == 0, result.output
    encoder = RecordEncoder()
    by_subject: dict[str, list[dict[str, Any]]] = {"activity_event": [], "candidate_profile": []}
    for line in out.read_bytes().splitlines():
        item = orjson.loads(line)
        if item["subject"] == "activity_event":
            value = encoder.event(item["record"]).value
        else:  # what a reader sees once it opened the sealed contact
            value = encode("candidate_profile", encoder.profile_model(item["record"]).to_avro())
        by_subject[item["subject"]].append(decode(value).record)
    return by_subject


def sort_key(record: dict[str, Any]) -> str:
    return str(record.get("event_id") or record["candidate_id"])


def content(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records in a fixed order, without ``received_at`` (the time the writer stamped)."""
    stripped = [{k: v for k, v in r.items() if k != "received_at"} for r in records]
    return sorted(stripped, key=sort_key)


@pytest.mark.kafka
def test_simulate_via_gateway_lands_what_the_file_holds(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    gateway_keys = keys_file(tmp_path / "gateway-keys", MORE_KEYS)
    sim_keys = keys_file(tmp_path / "sim-keys", {**KEYS, **MORE_KEYS})
    expected = expected_from_file(tmp_path)
    gateway = create_app(gateway_settings(api_keys_file=gateway_keys), kafka, CollectorRegistry())
    flags = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix]
    with serving(gateway) as url:
        via = ["--via", "gateway", "--gateway-url", url, "--api-keys-file", str(sim_keys)]
        result = CliRunner().invoke(app, [*flags, *SIM, *via])
    assert result.exit_code == 0, result.output
    profiles = len(expected["candidate_profile"])
    assert f"{profiles + 150} accepted, 0 duplicates, 0 rejected, 0 failed" in result.output

    events = [decode(r.value).record for r in records_on(kafka, ACTIVITY)]
    with closing(KeyRing(kafka, load_privacy_settings().key_encryption_keys())) as ring:
        ring.catch_up()
        stored = [
            open_profile(decode(r.value).record, ring.key) for r in records_on(kafka, PROFILE)
        ]
    assert len(events) == 150
    assert content(events) == content(expected["activity_event"])
    assert content(stored) == content(expected["candidate_profile"])
    # One candidate's events stay in time order on their partition.
    last: dict[str, Any] = {}
    for event in events:
        assert event["occurred_at"] >= last.get(event["candidate_id"], event["occurred_at"])
        last[event["candidate_id"]] = event["occurred_at"]


@pytest.mark.kafka
def test_a_seed_sent_again_is_duplicate_but_new_with_fresh_ids(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    """Issue #16: a second demo run must move the pipeline, not be de-duplicated away."""
    gateway_keys = keys_file(tmp_path / "gateway-keys", MORE_KEYS)
    sim_keys = keys_file(tmp_path / "sim-keys", {**KEYS, **MORE_KEYS})
    gateway = create_app(gateway_settings(api_keys_file=gateway_keys), kafka, CollectorRegistry())
    flags = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix]
    outputs = []
    with serving(gateway) as url:
        via = ["--via", "gateway", "--gateway-url", url, "--api-keys-file", str(sim_keys)]
        for extra in ([], [], ["--fresh-ids"]):
            result = CliRunner().invoke(app, [*flags, *SIM, *via, *extra])
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
    assert "0 duplicates, 0 rejected, 0 failed" in outputs[0]
    assert "150 duplicates, 0 rejected, 0 failed" in outputs[1]
    assert "every event was a duplicate" in outputs[1]
    assert "0 duplicates, 0 rejected, 0 failed" in outputs[2]
    events = [decode(r.value).record for r in records_on(kafka, ACTIVITY)]
    assert len(events) == len({e["event_id"] for e in events}) == 300
    seed_ids = {e["event_id"] for e in expected_from_file(tmp_path)["activity_event"]}
    first = [e for e in events if e["event_id"] in seed_ids]
    fresh = [e for e in events if e["event_id"] not in seed_ids]
    assert len(first) == len(fresh) == 150
    assert not {e["candidate_id"] for e in first} & {e["candidate_id"] for e in fresh}

    def shape(batch: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted((e["type"], e["occurred_at"].isoformat(), e["source"]) for e in batch)

    assert shape(first) == shape(fresh)


@pytest.mark.kafka
def test_one_key_for_all_sources_stamps_the_keys_source(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_SIMULATE_API_KEY", KEYS["ats"])
    gateway = create_app(gateway_settings(), kafka, CollectorRegistry())
    flags = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix]
    small = ["simulate", "--seed", "2", "--candidates", "3", "--events", "20"]
    with serving(gateway) as url:
        result = CliRunner().invoke(app, [*flags, *small, "--via", "gateway", "--gateway-url", url])
    assert result.exit_code == 0, result.output
    events = [decode(r.value).record for r in records_on(kafka, ACTIVITY)]
    assert len(events) == 20
    assert {e["source"] for e in events} == {"ats"}


def test_without_keys_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NURTURE_SIMULATE_API_KEY", raising=False)
    result = CliRunner().invoke(app, [*SIM, "--via", "gateway"])
    assert result.exit_code == 2  # a configuration error
    assert "--api-keys-file or --api-key" in result.output


def page_view(number: int, candidate: str = "cand-1", source: str = "esp") -> SimRecord:
    return SimRecord(
        "activity_event",
        {"event_id": f"e{number}", "candidate_id": candidate, "source": source, "type": "x"},
    )


def test_429_and_503_are_retried_after_retry_after_and_only_unavailable_resent() -> None:
    posted: list[list[str]] = []
    answers: Iterator[httpx.Response | tuple[int, dict[str, str]]] = iter(
        [
            httpx.Response(429, json={"error": "rate_limited"}, headers={"Retry-After": "2"}),
            (503, {"e1": "accepted", "e2": "unavailable", "e3": "rejected"}),
            (202, {"e2": "accepted"}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        ids = [e["event_id"] for e in orjson.loads(request.content)["events"]]
        posted.append(ids)
        answer = next(answers)
        if isinstance(answer, httpx.Response):
            return answer
        status, outcomes = answer
        results = [
            {"index": i, "event_id": e, "status": outcomes[e], "errors": [], "detail": None}
            for i, e in enumerate(ids)
        ]
        return httpx.Response(status, json={"results": results}, headers={"Retry-After": "3"})

    slept: list[float] = []
    keys = SourceKeys({"esp": SecretStr("k" * 16)})
    sender = GatewaySender(
        "http://gw", keys, sleep=slept.append, transport=httpx.MockTransport(handler)
    )
    with sender:
        counts = send_via_gateway([page_view(1), page_view(2), page_view(3)], sender)
    assert posted == [["e1", "e2", "e3"], ["e1", "e2", "e3"], ["e2"]]
    assert slept == [2.0, 3.0]
    assert (counts.accepted, counts.rejected, counts.failed, counts.events) == (2, 1, 0, 3)


def test_a_candidates_events_stay_in_order_across_sources() -> None:
    posted: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids = [e["event_id"] for e in orjson.loads(request.content)["events"]]
        posted.append(ids)
        results = [{"index": i, "event_id": e, "status": "accepted"} for i, e in enumerate(ids)]
        return httpx.Response(202, json={"results": results})

    keys = SourceKeys({"esp": SecretStr("k" * 16), "ats": SecretStr("a" * 16)})
    records = [page_view(1), page_view(2, "cand-2"), page_view(3, source="ats"), page_view(4)]
    with GatewaySender("http://gw", keys, transport=httpx.MockTransport(handler)) as sender:
        send_via_gateway(records, sender)
    # e3 (ats) of cand-1 forces e1 out first; e4 (esp) of cand-1 then forces e3 out.
    assert posted == [["e1", "e2"], ["e3"], ["e4"]]
