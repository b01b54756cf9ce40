"""`nurture up --demo` as a user runs it: it scores simulated events, then stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from schemas import codec
from schemas.settings import KafkaSettings
from schemas.topics import ENGAGEMENT
from streams.worker.probe import free_port
from tests.kafka_helpers import read_all, unique, wait_until
from tests.test_observability_prometheus import free_port_pair


def test_up_demo_scores_simulated_events_and_stops_on_sigterm(
    kafka_base: KafkaSettings, tmp_path: Path
) -> None:
    settings = kafka_base.model_copy(update={"topic_prefix": unique("up") + "."})
    env = {
        **os.environ,
        "NURTURE_BROKER_DATA_DIR": str(tmp_path / "kafka"),  # state dir = tmp_path
        "NURTURE_TOPIC_PARTITIONS": "3",
    }
    env.pop("NURTURE_GATEWAY_API_KEYS", None)
    env.pop("NURTURE_GATEWAY_API_KEYS_FILE", None)
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
        str(free_port()),
        "--worker-port",
        str(free_port()),
        "--delivery-metrics-port",  # and the next port: nothing fixed, tests run side by side
        str(free_port_pair()),
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
                if r.value and codec.decode(r.value).subject == "engagement_record"
            )

        waited: AssertionError | None = None
        try:
            wait_until(lambda: scored() >= 20, timeout_s=120, interval_s=1.0, what="20 scores")
        except AssertionError as exc:
            waited = exc
        assert up.poll() is None, "nurture up must keep running"
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=90)
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
        "deliver-email.log",
        "deliver-webhook.log",
    }
    assert "restart" not in text, f"a child crashed during the run:\n{text}\n{_tails(logs)}"


def _tails(logs: Path) -> str:
    """The last lines of every child's log (why a child crashed or stayed idle)."""
    return "\n".join(
        f"== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        for log in sorted(logs.iterdir())
    )
