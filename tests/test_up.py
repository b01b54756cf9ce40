"""`nurture up --demo` as a user runs it: it scores simulated events, delivers a hot candidate's
recruiter alert and ad audience webhooks to the local sink, then stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from deploy.registry.process import LocalRegistry
from deploy.registry.settings import RegistrySettings
from deploy.up.plan import UpOptions
from schemas import codec
from schemas.schema_registry.codec import confluent_codec
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ENGAGEMENT, PROFILE
from streams.worker.probe import free_port, group_offsets
from tests.kafka_helpers import read_all, unique, wait_until
from tests.process_helpers import finish
from tests.test_observability_prometheus import free_port_run
from tests.test_secure_broker_support import free_port_pair


@pytest.mark.parametrize(
    "framing",
    [
        "single-object",
        # Schema Registry mode with a local URL: `nurture up` starts Apicurio on the URL's
        # port, registers the schemas, and every writer frames its records for the registry.
        pytest.param("confluent", marks=pytest.mark.registry),
    ],
)
def test_up_demo_scores_simulated_events_and_stops_on_sigterm(
    kafka_base: KafkaSettings, tmp_path: Path, framing: str
) -> None:
    settings = kafka_base.model_copy(update={"topic_prefix": unique("up") + "."})
    env = {
        **os.environ,
        "NURTURE_BROKER_DATA_DIR": str(tmp_path / "kafka"),  # state dir = tmp_path
        "NURTURE_TOPIC_PARTITIONS": "3",
    }
    for name in list(env):  # nurture up's local defaults: generated keys, outbox, webhook sink
        if name.startswith(("NURTURE_GATEWAY_API_KEYS", "NURTURE_DELIVERY_", "NURTURE_SCHEMA_")):
            del env[name]
    registry = RegistrySettings(port=free_port_pair(), data_dir=tmp_path / "registry")
    if framing == "confluent":
        env["NURTURE_SCHEMA_REGISTRY_URL"] = registry.url
        env["NURTURE_REGISTRY_DATA_DIR"] = str(registry.data_dir)
    try:
        _up_demo(settings, env, tmp_path, framing)
    finally:
        if framing == "confluent":
            LocalRegistry(registry).stop()


def _up_demo(settings: KafkaSettings, env: dict[str, str], tmp_path: Path, framing: str) -> None:
    """`nurture up --demo` until a hot candidate's webhooks arrive, then SIGTERM."""
    decode = codec.decode
    if framing == "confluent":
        registry_settings = SchemaRegistrySettings(url=env["NURTURE_SCHEMA_REGISTRY_URL"])
        decode = confluent_codec(registry_settings, topic_prefix=settings.topic_prefix).decode
    gateway_port = free_port()
    argv = [
        sys.executable,
        "-m",
        "deploy.cli.main",
        "--bootstrap",
        settings.bootstrap_servers,
        "--topic-prefix",
        settings.topic_prefix,
        "up",
        "--demo",
        "--no-ui",
        "--gateway-port",
        str(gateway_port),
        "--worker-port",
        str(free_port()),
        "--delivery-metrics-port",  # and the next ports: nothing fixed, tests run side by side
        str(free_port_run()),
        "--webhook-sink-port",
        str(free_port()),
    ]
    up = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        def scored() -> int:
            try:
                records = read_all(settings, settings.topic(ENGAGEMENT), timeout_s=10)
            except AssertionError:
                return 0  # topics not created yet
            return sum(
                1
                for r in records
                if r.value
                and (r.value[0] == 0) == (framing == "confluent")  # 00: the Confluent framing
                and decode(r.value).subject == "engagement_record"
            )

        waited: AssertionError | None = None
        try:
            wait_until(lambda: scored() >= 20, timeout_s=120, interval_s=1.0, what="20 scores")
            keys = tmp_path / "gateway-api-keys"
            candidate_id = _turn_a_candidate_hot(settings, gateway_port, keys)
            sink = tmp_path / "webhooks"
            hooks = wait_until(
                lambda: _webhooks_for(sink, candidate_id),
                timeout_s=180,
                interval_s=1.0,
                what="the hot candidate's recruiter alert and ad audience webhooks in the sink",
            )
        except AssertionError as exc:
            waited = exc
        assert up.poll() is None, "nurture up must keep running"
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = finish(up, 90)
    text = output.decode(errors="replace")
    logs = tmp_path / "logs"
    if waited is not None:
        raise AssertionError(f"{waited}\n{text[-3000:]}\n{_tails(logs)}")
    assert up.returncode == 0, text
    assert "stopped" in text
    assert {p.name for p in logs.iterdir()} >= {
        "worker.log",
        "gateway.log",
        "simulator.log",
        "webhook-sink.log",
        *(f"deliver-{channel}.log" for channel in UpOptions().delivery_channels),
    }
    alert, audience = hooks["recruiter_alert"], hooks["ad_audience"]
    assert alert["signature_valid"] is True and audience["signature_valid"] is True
    assert alert["body"]["campaign_id"] == "hot-candidate"
    assert alert["body"]["candidate"]["email"] == f"{candidate_id}@example.org"
    assert alert["idempotency_key"] == alert["body"]["action_id"]
    assert audience["body"]["audience_op"] == "add" and "email_sha256" in audience["body"]
    assert "no NURTURE_DELIVERY_WEBHOOKS set" in text and str(sink) in text
    assert "restart" not in text, f"a child crashed during the run:\n{text}\n{_tails(logs)}"
    if framing == "confluent":
        assert "schema registry at http://127.0.0.1" in text, text


def _turn_a_candidate_hot(settings: KafkaSettings, gateway_port: int, keys_file: Path) -> str:
    """Through the local gateway: a profile (ads consent), then an application and an attended
    career event (40 + 25 points: the hot tier), which the hot-candidate campaign answers with
    a recruiter alert and an ad audience addition. Returns the candidate id.

    The events go out once the worker has committed past the profile: profiles and events are
    separate topics with no order between them, and the audience addition needs the consent."""
    keys = dict(line.split("=", 1) for line in keys_file.read_text().splitlines() if "=" in line)
    headers = {"Authorization": f"Bearer {keys['career-site']}"}
    candidate_id = f"up-hot-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    gateway = f"http://127.0.0.1:{gateway_port}"
    profile = {
        "contact": {"email": f"{candidate_id}@example.org", "first_name": "Grace"},
        "locale": "en-gb",
        "time_zone": "UTC",
        "consents": {"ads": {"granted": True, "granted_at": "2025-01-01T00:00:00Z"}},
        "updated_at": now,
    }
    url = f"{gateway}/v1/candidates/{candidate_id}/profile"
    response = httpx.put(url, json=profile, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    group, topic = f"{settings.topic_prefix}nurture-worker", settings.topic(PROFILE)
    published = {p: end for p, (_, end) in group_offsets(settings, group, topic).items()}

    def profile_applied() -> bool:
        offsets = group_offsets(settings, group, topic)
        return all(offsets[p][0] >= end for p, end in published.items())

    wait_until(profile_applied, timeout_s=60, what="the worker past the hot candidate's profile")

    def event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_id": f"evt-{uuid.uuid4().hex}",
            "type": event_type,
            "candidate_id": candidate_id,
            "occurred_at": now,
            "payload": payload,
        }

    events = [
        event("application_submitted", {"job_id": "4711"}),
        event("career_event_attended", {"career_event_id": "open-day", "attended_minutes": 90}),
    ]
    response = httpx.post(
        f"{gateway}/v1/events", json={"events": events}, headers=headers, timeout=30
    )
    assert response.status_code == 202, response.text
    return candidate_id


def _webhooks_for(sink: Path, candidate_id: str) -> dict[str, dict[str, Any]] | None:
    """The sink's first request per endpoint about ``candidate_id``, once both arrived."""
    found: dict[str, dict[str, Any]] = {}
    for endpoint in ("recruiter_alert", "ad_audience"):
        path = sink / f"{endpoint}.jsonl"
        lines = path.read_bytes().splitlines() if path.exists() else []
        for line in map(orjson.loads, lines):
            if line["body"]["candidate_id"] == candidate_id:
                found[endpoint] = line
                break
    return found if len(found) == 2 else None


def _tails(logs: Path) -> str:
    """The last lines of every child's log (why a child crashed or stayed idle)."""
    return "\n".join(
        f"== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        for log in sorted(logs.iterdir())
    )
