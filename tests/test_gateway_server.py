"""The gateway as deployed: `nurture gateway` as a process, and schemathesis against its OpenAPI.

The fuzzing runs against a real uvicorn server with the real broker behind it: no answer may be a
5xx, and every answer must match the document (status code, content type, headers, body schema).
Bounded by hypothesis settings so the module finishes well within two minutes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from producers.gateway.app import create_app
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from tests.kafka_helpers import unique, wait_until
from tests.process_helpers import finish
from tests.test_gateway_support import (
    KEYS,
    auth,
    decoded,
    event,
    gateway_settings,
    serving,
)

pytestmark = pytest.mark.kafka

NURTURE = Path(sys.executable).parent / "nurture"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nurture_gateway_serves_events_and_stops_cleanly(kafka: KafkaSettings) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "NURTURE_GATEWAY_API_KEYS": ",".join(f"{s}={k}" for s, k in KEYS.items()),
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
    }
    command = [str(NURTURE), "--topic-prefix", kafka.topic_prefix, "gateway", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    sent = [event(candidate_id=f"cand-{i}") for i in range(3)]
    try:
        with httpx.Client(base_url=url, timeout=10) as client:

            def ready() -> bool:
                try:
                    return client.get("/readyz").status_code == 200
                except httpx.TransportError:
                    assert process.poll() is None, "nurture gateway exited"
                    return False

            wait_until(ready, what="nurture gateway to be ready")
            response = client.post("/v1/events", json={"events": sent}, headers=auth())
            assert response.status_code == 202, response.text
            assert client.get("/healthz").json() == {"status": "ok"}
            assert "nurture_gateway_requests_total" in client.get("/metrics").text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = finish(process, 30)
    log = output.decode()
    # uvicorn shuts down gracefully, then re-raises SIGINT: the conventional 128 + 2.
    assert process.returncode in (0, 128 + signal.SIGINT), log
    assert "Application shutdown complete" in log
    assert KEYS["career-site"] not in log
    assert "cand-0" not in log  # no candidate ids (nor any PII) in the log
    assert sorted(d.record["event_id"] for d in decoded(kafka, ACTIVITY)) == sorted(
        e["event_id"] for e in sent
    )


@pytest.fixture(scope="module")
def live_gateway(kafka_base: KafkaSettings) -> Iterator[str]:
    """A gateway behind uvicorn with its own topics, unlimited rate, for the fuzzer."""
    kafka = kafka_base.model_copy(update={"topic_prefix": unique("fuzz") + "."})
    assert topic_admin.create_all(kafka).ok
    overrides = {"rate_limit_events_per_s": 1e9, "rate_limit_burst": 10**9}
    app = create_app(gateway_settings(**overrides), kafka, CollectorRegistry())
    with serving(app) as url:
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, what="readiness")
        yield url


CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)


def test_fuzzing_finds_no_server_error_and_no_schema_violation(live_gateway: str) -> None:
    """schemathesis' CLI: coverage (boundary values) and fuzzing phases on every operation."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{live_gateway}/openapi.json",
        "--header",
        f"Authorization: Bearer {KEYS['career-site']}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        "30",
        "--request-timeout",
        "20",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "10 selected / 10 total" in report
    assert " passed" in report and "failed" not in report.split("SUMMARY")[-1]
