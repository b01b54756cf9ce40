"""The local webhook sink of `nurture up` as a real process: verified requests become JSON lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from consumers.webhook_signature import HEADER, sign
from streams.worker.probe import free_port
from tests.kafka_helpers import wait_until

SECRET = "sink-test-secret-0123456789abcdef"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    out = tmp_path / "webhooks"
    env = {**os.environ, "NURTURE_DELIVERY_WEBHOOK_SECRET": SECRET}
    argv = [sys.executable, "-m", "deploy.up.webhook_sink", "--port", str(port), "--dir", str(out)]
    log = (tmp_path / "sink.log").open("wb")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, (tmp_path / "sink.log").read_text()
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, timeout_s=30, interval_s=0.2, what="the webhook sink")
        yield url, out
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        log.close()


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_signed_requests_are_recorded_per_endpoint(sink: tuple[str, Path]) -> None:
    url, out = sink
    body = orjson.dumps({"action_id": "a-1", "channel": "recruiter_alert"})
    headers = {HEADER: sign(SECRET, body), "Idempotency-Key": "a-1"}
    response = httpx.post(f"{url}/hooks/recruiter_alert", content=body, headers=headers)
    assert response.status_code == 200
    [line] = _lines(out / "recruiter_alert.jsonl")
    assert line["signature_valid"] is True
    assert line["endpoint"] == "recruiter_alert"
    assert line["idempotency_key"] == "a-1"
    assert line["body"] == {"action_id": "a-1", "channel": "recruiter_alert"}
    assert (out / "recruiter_alert.jsonl").stat().st_mode & 0o777 == 0o600


def test_a_bad_signature_is_refused_but_recorded(sink: tuple[str, Path]) -> None:
    url, out = sink
    body = b'{"action_id": "a-2"}'
    forged = {HEADER: sign("another-secret-0123456789abcdef", body)}
    assert httpx.post(f"{url}/hooks/ad_audience", content=body, headers=forged).status_code == 401
    assert httpx.post(f"{url}/hooks/ad_audience", content=body).status_code == 401
    assert [line["signature_valid"] for line in _lines(out / "ad_audience.jsonl")] == [False] * 2


def test_endpoint_names_that_are_no_file_names_are_refused(sink: tuple[str, Path]) -> None:
    url, out = sink
    body = b"{}"
    headers = {HEADER: sign(SECRET, body)}
    assert httpx.post(f"{url}/hooks/..", content=body, headers=headers).status_code == 404
    assert httpx.post(f"{url}/hooks/.hidden", content=body, headers=headers).status_code == 404
    assert not out.exists() or not any(out.iterdir())
