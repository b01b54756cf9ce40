"""The worker against the real broker: dead letters, profiles and erasure, HTTP and `nurture score`.

One worker process (memory store) per test; every wait is on a condition with a deadline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas import wire
from schemas.codec import activity_codec, encode
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ACTIVITY_DLQ, PROFILE, PROFILE_DLQ
from streams.bench.loadgen import START, LoadSpec, activity_events, encoded_events, publish
from streams.scoring.config import load_model
from streams.worker.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
)
from streams.worker.probe import WorkerProcess
from tests.kafka_helpers import read_all, unique, wait_until
from tests.worker_support import WorkerHarness, differences, published, reference

pytestmark = pytest.mark.kafka


@pytest.fixture
def harness(kafka: KafkaSettings, tmp_path: Path) -> Iterator[WorkerHarness]:
    harness = WorkerHarness(kafka, tmp_path, unique("io"), store="memory://")
    yield harness
    harness.close()


def started(harness: WorkerHarness) -> WorkerProcess:
    worker = harness.worker().start()
    port = worker.port

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            assert worker.exit_code() is None, harness.logs()
            return False

    wait_until(answers, timeout_s=60, what="the worker's web server")
    return worker


def invalid_event_bytes(candidate_id: str) -> bytes:
    """A well-formed Avro frame of a known schema whose event_id is empty (breaks the contract)."""
    event = next(activity_events(LoadSpec(events=1, run="bad")))
    frame = activity_codec().encode({**event, "event_id": "X", "candidate_id": candidate_id})
    # The body opens with event_id: length 1 (zig-zag 0x02) and "X"; make it the empty string.
    assert frame[wire.HEADER_SIZE : wire.HEADER_SIZE + 2] == b"\x02X"
    return frame[: wire.HEADER_SIZE] + b"\x00" + frame[wire.HEADER_SIZE + 2 :]


def test_poison_records_are_dead_lettered_and_the_rest_is_scored(
    kafka: KafkaSettings, harness: WorkerHarness
) -> None:
    good = encoded_events(LoadSpec(events=300, candidates=5, run="io"))
    victim = good[0][0]
    poison = [
        (victim, b"not avro at all", "CorruptPayloadError"),
        (
            victim,
            wire.MARKER + b"\x01\x02\x03\x04\x05\x06\x07\x08" + b"\x00" * 20,
            "UnknownSchemaError",
        ),
        (victim, invalid_event_bytes(victim.decode()), "ValidationError"),
        (b"someone-else", good[1][1], "ValidationError"),  # key is not the record's candidate
        (victim, encode("erasure_request", _erasure(victim.decode())), "WrongSubjectError"),
    ]
    # Every poison record goes to the victim's partition, between good events.
    pairs = good[:100] + [(key, value) for key, value, _ in poison] + good[100:]
    publish(kafka, kafka.topic(ACTIVITY), [(k, v) for k, v in pairs])
    started(harness)
    harness.wait_caught_up()

    letters = {m.value: m for m in read_all(kafka, kafka.topic(ACTIVITY_DLQ))}
    assert len(letters) == len(poison)
    sources = {(m.partition, m.offset): m for m in read_all(kafka, kafka.topic(ACTIVITY))}
    for key, value, error_class in poison:
        letter = letters[value]
        headers = dict(letter.headers)
        assert letter.key == key
        assert headers[HEADER_TOPIC] == kafka.topic(ACTIVITY).encode()
        assert headers[HEADER_ERROR_CLASS] == error_class.encode()
        assert headers[HEADER_ERROR_MESSAGE]
        origin = sources[(int(headers[HEADER_PARTITION]), int(headers[HEADER_OFFSET]))]
        assert (origin.key, origin.value) == (letter.key, letter.value)
    problems = differences(reference(load_model(), kafka), published(kafka))
    assert not problems, "\n".join(problems[:5])


def test_profiles_are_kept_and_erasure_deletes_the_row(
    kafka: KafkaSettings, harness: WorkerHarness
) -> None:
    events = list(activity_events(LoadSpec(events=40, candidates=2, run="pr")))
    publish(
        kafka, kafka.topic(ACTIVITY), encoded_events(LoadSpec(events=40, candidates=2, run="pr"))
    )
    erased, kept = sorted({e["candidate_id"] for e in events})
    profile = {
        "candidate_id": kept,
        "contact": {"email": "kept@example.com"},
        "locale": "de-DE",
        "time_zone": "Europe/Berlin",
        "updated_at": START,
        "source": "test",
    }
    publish(
        kafka,
        kafka.topic(PROFILE),
        [(kept.encode(), encode("candidate_profile", profile)), (kept.encode(), b"garbage")],
    )
    worker = started(harness)
    base = f"http://127.0.0.1:{worker.port}"
    harness.wait_caught_up()
    assert httpx.get(f"{base}/v1/candidates/{erased}/engagement").status_code == 200

    publish(
        kafka,
        kafka.topic(PROFILE),
        [(erased.encode(), encode("erasure_request", _erasure(erased)))],
    )
    wait_until(
        lambda: httpx.get(f"{base}/v1/candidates/{erased}/engagement").status_code == 404,
        timeout_s=30,
        what="the erased candidate's row to go",
    )
    assert published(kafka)[erased] is None  # tombstone on candidate.engagement
    assert httpx.get(f"{base}/v1/candidates/{kept}/engagement").status_code == 200
    [letter] = read_all(kafka, kafka.topic(PROFILE_DLQ))
    assert letter.value == b"garbage"
    assert dict(letter.headers)[HEADER_TOPIC] == kafka.topic(PROFILE).encode()


def test_score_over_http_and_cli(kafka: KafkaSettings, harness: WorkerHarness) -> None:
    pairs = encoded_events(LoadSpec(events=200, candidates=3, run="cli"))
    publish(kafka, kafka.topic(ACTIVITY), pairs)
    worker = started(harness)
    base = f"http://127.0.0.1:{worker.port}"
    harness.wait_caught_up()
    expected = reference(load_model(), kafka)
    candidate = sorted(expected)[0]

    body = httpx.get(f"{base}/v1/candidates/{candidate}/engagement").json()
    record = expected[candidate]
    assert body["candidate_id"] == candidate
    assert body["score"] == pytest.approx(record["score"])
    assert body["tier"] == record["tier"]
    assert body["model_version"] == record["model_version"]
    assert body["as_of"] == record["as_of"].isoformat()
    assert body["contributions"] == pytest.approx(record["contributions"])
    missing = httpx.get(f"{base}/v1/candidates/nobody-{unique()}/engagement")
    assert missing.status_code == 404 and "no engagement" in missing.json()["message"]

    cli = [sys.executable, "-m", "deploy.cli.main", "score", "--worker-url", base]
    shown = subprocess.run(
        [*cli, candidate, "--json"], check=False, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["contributions"] == pytest.approx(record["contributions"])
    table = subprocess.run(
        [*cli, candidate], check=False, capture_output=True, text=True, timeout=60
    )
    assert table.returncode == 0 and candidate in table.stdout and "contribution" in table.stdout
    unknown = subprocess.run(
        [*cli, "nobody"], check=False, capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == 1 and "not found" in unknown.stderr


def test_invalid_model_fails_at_start_naming_the_field(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("version: bad\nweights: {page_viewed: -1}\ntiers: {cold: 0}\n")
    result = subprocess.run(
        [sys.executable, "-m", "deploy.cli.main", "--topic-prefix", kafka.topic_prefix,
         "worker", "--model", str(model), "--store", "memory://"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2  # a configuration error
    assert "weights.page_viewed" in result.stderr and "Traceback" not in result.stderr


def _erasure(candidate_id: str) -> dict[str, object]:
    return {
        "request_id": f"erase-{candidate_id}",
        "candidate_id": candidate_id,
        "requested_at": START,
        "source": "test",
    }
