"""The simulator: reproducible, realistic enough, valid against the contract, and to Kafka."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from producers.simulate import SimRecord, generate
from producers.simulate.output import Pacer, write_jsonl
from schemas.codec import activity_codec, encode
from schemas.models import EVENT_TYPES, parse_event, parse_profile
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from tests.kafka_helpers import read_all, wait_until

END = datetime(2025, 6, 1, tzinfo=UTC)


def run(seed: int, candidates: int, **options: Any) -> list[SimRecord]:
    return list(generate(seed, candidates, end=END, **options))


def jsonl(seed: int, candidates: int) -> bytes:
    out = io.BytesIO()
    write_jsonl(generate(seed, candidates, end=END), out)
    return out.getvalue()


def consent_state(profile: dict[str, Any]) -> str:
    email = profile["consents"].get("email")
    if email is None:
        return "none"
    if email.get("withdrawn_at") is not None:
        return "withdrawn"
    return "expired" if email["expires_at"] < END else "granted"


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = jsonl(7, 300)
    assert first == jsonl(7, 300)
    assert first != jsonl(8, 300)


def test_cli_file_output_is_byte_identical(tmp_path: Path) -> None:
    runner = CliRunner()
    outputs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in outputs:
        args = ["simulate", "--seed", "3", "--candidates", "50", "--end", "2025-06-01"]
        result = runner.invoke(app, [*args, "--output", str(path)])
        assert result.exit_code == 0, result.output
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    first = orjson.loads(outputs[0].read_bytes().splitlines()[0])
    assert first["subject"] == "candidate_profile"


def test_population_and_journeys_look_real() -> None:
    records = run(11, 2000)
    profiles = [r.record for r in records if r.subject == "candidate_profile"]
    events = [r.record for r in records if r.subject == "activity_event"]
    assert len(profiles) == 2000
    assert set(Counter(e["type"] for e in events)) == set(EVENT_TYPES)

    states = Counter(consent_state(p) for p in profiles)
    assert set(states) == {"granted", "expired", "withdrawn", "none"}
    assert min(states.values()) > 100
    assert len({p["time_zone"] for p in profiles}) >= 6
    assert len({p["locale"] for p in profiles}) >= 6
    emails = [p["contact"]["email"] for p in profiles]
    assert len(set(emails)) == len(emails)
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\.\d+@example\.test", e) for e in emails)

    start = END - timedelta(days=30)
    assert all(start <= e["occurred_at"] <= END for e in events)


def test_profile_first_then_events_in_time_order_and_candidates_interleave() -> None:
    records = run(5, 500)
    seen_profile: set[str] = set()
    last_time: dict[str, datetime] = {}
    switches = 0
    previous = None
    for sim in records:
        candidate = sim.record["candidate_id"]
        if sim.subject == "candidate_profile":
            assert candidate not in seen_profile
            seen_profile.add(candidate)
        else:
            assert candidate in seen_profile, "event before its candidate's profile"
            assert sim.record["occurred_at"] >= last_time.get(candidate, sim.record["occurred_at"])
            last_time[candidate] = sim.record["occurred_at"]
        switches += candidate != previous
        previous = candidate
    assert switches > len(records) * 0.9  # not one candidate after the other


def test_no_email_reaction_without_consent() -> None:
    records = run(13, 1500)
    no_mail = {
        r.record["candidate_id"]
        for r in records
        if r.subject == "candidate_profile" and consent_state(r.record) in ("none", "withdrawn")
    }
    reactions = {"email_opened", "email_clicked", "email_replied", "unsubscribed"}
    assert no_mail
    assert not [
        r
        for r in records
        if r.subject == "activity_event"
        and r.record["candidate_id"] in no_mail
        and r.record["type"] in reactions
    ]


def test_every_record_fits_the_contract() -> None:
    codec = activity_codec()
    for sim in run(17, 300):
        if sim.subject == "activity_event":
            assert parse_event(sim.record).to_avro()["event_id"] == sim.record["event_id"]
            codec.encode(sim.record)
        else:
            parse_profile(sim.record)
            encode("candidate_profile", sim.record)


def test_events_option_stops_at_exactly_n() -> None:
    records = run(2, 10, events=500, events_per_candidate=100)
    assert sum(r.subject == "activity_event" for r in records) == 500


def test_pacer_spaces_ticks_and_stops_after_the_duration() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(rate=10, duration_s=1.0, clock=lambda: now[0], sleep=sleep)
    ticks = 0
    while pacer.tick():
        ticks += 1
    assert ticks == 10
    assert slept == pytest.approx([0.1] * 9)


@pytest.mark.kafka
def test_simulate_to_kafka_lands_every_record(kafka: KafkaSettings) -> None:
    expected = run(21, 15, events=120)
    want_events = sum(r.subject == "activity_event" for r in expected)
    want_profiles = len(expected) - want_events
    args = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix]
    sim = ["simulate", "--seed", "21", "--candidates", "15", "--events", "120"]
    result = CliRunner().invoke(app, [*args, *sim, "--end", "2025-06-01"])
    assert result.exit_code == 0, result.output
    assert want_events == 120

    activity = wait_until(
        lambda: r if len(r := read_all(kafka, kafka.topic(ACTIVITY))) >= want_events else None,
        what="simulated events on the activity topic",
    )
    profiles = read_all(kafka, kafka.topic(PROFILE))
    assert len(activity) == want_events
    assert len(profiles) == want_profiles
    assert {r.key.decode() for r in activity} <= {r.key.decode() for r in profiles}
