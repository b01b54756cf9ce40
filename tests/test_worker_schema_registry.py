"""The worker, replay and `topics describe` in Schema Registry mode, against the real broker and
a real registry (a local Apicurio on free ports for this module, stopped at its end).

Each test registers the catalog under its own topic prefix (its TopicNameStrategy subjects are
its own). ``registry`` and ``kafka`` tests: they need Java 21+ and the registry's release.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from schemas import wire
from schemas.codec import codec_for
from schemas.kafka_seam import topic_admin
from schemas.schema_registry import framing
from schemas.schema_registry.codec import ConfluentCodec
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, ACTIVITY_DLQ, ENGAGEMENT, SUPPRESSION
from streams.bench.loadgen import LoadSpec, encoded_events, publish
from streams.scoring.config import load_model
from streams.worker.dlq import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE
from tests import registry_support
from tests.kafka_helpers import read_all, unique
from tests.test_secure_broker_support import free_port_pair
from tests.worker_support import WorkerHarness, differences, reference

pytestmark = [pytest.mark.registry, pytest.mark.kafka]

#: A schema id no registry of these tests hands out.
UNKNOWN_ID = 987_654


registry_url = registry_support.registry_url


@pytest.fixture
def twin(kafka_base: KafkaSettings) -> Iterator[KafkaSettings]:
    """Topics under a second prefix, for the same events single-object framed."""
    settings = kafka_base.model_copy(update={"topic_prefix": unique("twin") + "."})
    assert topic_admin.create_all(settings).ok
    yield settings
    topic_admin.delete_prefixed(settings)


def _confluent(value: bytes, schema_id: int) -> bytes:
    return framing.header(schema_id) + value[wire.HEADER_SIZE :]


def _last_decoded(
    kafka: KafkaSettings, topic: str, codec: ConfluentCodec, subject: str
) -> tuple[dict[str, Any], set[framing.Framing]]:
    """The last record per key on ``topic`` (decoded) and the framings of all its records."""
    decode = codec.subject_decoder(codec_for(subject))
    latest: dict[str, Any] = {}
    framings: set[framing.Framing] = set()
    for message in read_all(kafka, kafka.topic(topic), timeout_s=60):
        framings.add(framing.framing_of(message.value))
        latest[message.key.decode()] = None if message.value is None else decode(message.value)
    return latest, framings


def _nurture(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_worker_scores_both_framings_writes_confluent_and_dead_letters_unknown_ids(
    kafka: KafkaSettings, twin: KafkaSettings, registry_url: str, tmp_path: Path
) -> None:
    codec = registry_support.registered_codec(registry_url, kafka)
    activity_id = codec.schema_id(ACTIVITY, "activity_event")
    events = encoded_events(LoadSpec(events=400, candidates=6, run="srw"))
    # Every other record Confluent framed: one topic, both framings, record by record; the
    # unknown id comes last, so every good event has the offset of its single-object twin.
    mixed = [(k, _confluent(v, activity_id) if i % 2 else v) for i, (k, v) in enumerate(events)]
    victim = events[0][0]
    poison = _confluent(events[0][1], UNKNOWN_ID)
    publish(kafka, kafka.topic(ACTIVITY), [*mixed, (victim, poison)])
    publish(twin, twin.topic(ACTIVITY), events)
    env = {"NURTURE_SCHEMA_REGISTRY_URL": registry_url}
    harness = WorkerHarness(kafka, tmp_path, unique("srw"), store="rocksdb://", env=env)
    try:
        worker = harness.worker().start()
        harness.wait_caught_up(alive=worker)
        assert worker.stop() == 0, harness.logs()
    finally:
        harness.close()

    [letter] = read_all(kafka, kafka.topic(ACTIVITY_DLQ))
    headers = dict(letter.headers)
    assert (letter.key, letter.value) == (victim, poison)
    assert headers[HEADER_ERROR_CLASS] == b"UnknownSchemaIdError"
    assert str(UNKNOWN_ID).encode() in headers[HEADER_ERROR_MESSAGE]

    engagement, engagement_framings = _last_decoded(kafka, ENGAGEMENT, codec, "engagement_record")
    assert engagement_framings == {"confluent"}
    problems = differences(reference(load_model(), twin), engagement)
    assert not problems, "\n".join(problems[:5])
    actions, action_framings = _last_decoded(kafka, ACTION, codec, "nurture_action")
    suppressions, suppression_framings = _last_decoded(
        kafka, SUPPRESSION, codec, "candidate_suppression"
    )
    assert actions and action_framings == {"confluent"}
    assert suppressions and suppression_framings == {"confluent"}

    code, output = _nurture(
        ["--topic-prefix", kafka.topic_prefix, "topics", "describe", "--json"], env
    )
    assert code == 0, output
    described = {row["topic"]: row["framing"] for row in json.loads(output)}
    assert described[kafka.topic(ACTIVITY)] == "mixed"
    assert described[kafka.topic(ENGAGEMENT)] == "confluent"
    assert described[kafka.topic(ACTION)] == "confluent"
    assert described[kafka.topic("nurture.delivery")] == "empty"
    assert described[kafka.topic("candidate.keys")] is None  # no Avro on it

    # campaigns simulate --candidate reads the candidate's records in both framings.
    # Its outcomes equal those from the single-object twin; with the mode off, the Confluent
    # framed half is skipped as undecodable and the outcomes differ.
    candidate = events[1][0].decode()  # odd records are Confluent framed
    simulate = ["campaigns", "simulate", "--json", "--candidate", candidate]
    code, both = _nurture(["--topic-prefix", kafka.topic_prefix, *simulate], env)
    assert code == 0 and both.strip(), both
    code, single = _nurture(["--topic-prefix", twin.topic_prefix, *simulate], {})
    assert code == 0 and both == single
    code, mode_off = _nurture(["--topic-prefix", kafka.topic_prefix, *simulate], {})
    assert mode_off != both

    # replay rebuild in registry mode publishes the same records, Confluent framed.
    rebuild_env = {
        **env,
        "NURTURE_WORKER_APP_ID": harness.app_id,
        "NURTURE_WORKER_DATA_DIR": str(tmp_path / "w1"),
    }
    before = len(read_all(kafka, kafka.topic(ENGAGEMENT)))
    code, output = _nurture(
        [
            "--topic-prefix",
            kafka.topic_prefix,
            "replay",
            "rebuild",
            "--from-beginning",
            "--yes",
            "--processes",
            "2",
        ],
        rebuild_env,
    )
    assert code == 0, output
    rebuilt = read_all(kafka, kafka.topic(ENGAGEMENT))
    assert len(rebuilt) > before
    assert {framing.framing_of(m.value) for m in rebuilt[before:]} == {"confluent"}
    after, _ = _last_decoded(kafka, ENGAGEMENT, codec, "engagement_record")
    assert after == engagement


def test_a_registry_down_at_start_stops_the_worker_with_one_line(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port_pair()}/apis/ccompat/v7"
    done = _worker_exit(kafka, tmp_path, closed)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "schema registry" in lines[0].lower() and "Traceback" not in done.stderr


def test_an_unregistered_schema_stops_the_worker_with_one_line(
    kafka: KafkaSettings, registry_url: str, tmp_path: Path
) -> None:
    done = _worker_exit(kafka, tmp_path, registry_url)  # nothing registered under this prefix
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nurture schemas register" in lines[0], done.stderr


def _worker_exit(
    kafka: KafkaSettings, tmp_path: Path, url: str
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "nurture"
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_WORKER_DATA_DIR": str(tmp_path / "worker"),
        "NURTURE_WORKER_ERASURE_SECRET": "s" * 32,
        "NURTURE_SCHEMA_REGISTRY_URL": url,
        "NURTURE_SCHEMA_REGISTRY_TIMEOUT_S": "3",
    }
    return subprocess.run(
        [str(script), "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
