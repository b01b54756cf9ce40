"""Helpers of the secure-broker tests, and tests of the helpers.

The secure local broker (SASL_SSL: SCRAM-SHA-512 over TLS) is started on free ports through the
CLI (`nurture broker start --secure`) with a temp data dir, beside whatever dev broker runs, and
stopped at the end. Child processes get a clean environment: no ``NURTURE_*`` variable of the
caller leaks in, except the jar cache.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.broker.secure import SecureLocalBroker, client_env
from deploy.broker.settings import BrokerSettings
from schemas.settings import KafkaSettings

NURTURE = (sys.executable, "-m", "deploy.cli.main")


def free_port_pair() -> int:
    """A port p such that p and p+1 are both free (listener and controller).

    Drawn below the kernel's ephemeral range (32768+ on Linux), where outgoing connections of
    other tests would otherwise take p+1 between this check and the broker's bind.
    """
    for _ in range(200):
        port = random.randrange(20_000, 32_000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


def base_env() -> dict[str, str]:
    """The caller's environment without its NURTURE_* settings (the jar cache stays)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    if "NURTURE_KAFKA_CACHE" in os.environ:
        env["NURTURE_KAFKA_CACHE"] = os.environ["NURTURE_KAFKA_CACHE"]
    env["COLUMNS"] = "200"  # rich wraps at 80 columns without a terminal
    return env


@dataclass(frozen=True)
class SecureBroker:
    """A running secure broker and what its clients need."""

    broker: SecureLocalBroker
    #: the ``nurture`` user's settings, without a topic prefix
    settings: KafkaSettings
    #: what `nurture broker start --secure` printed
    start_output: str

    @property
    def passwords(self) -> list[str]:
        return self.broker.users().passwords()

    def env(self, settings: KafkaSettings | None = None, **extra: str) -> dict[str, str]:
        """A child's environment: the NURTURE_* Kafka settings of ``settings`` and ``extra``."""
        chosen = settings or self.settings
        return {
            **base_env(),
            **client_env(chosen),
            "NURTURE_TOPIC_PREFIX": chosen.topic_prefix,
            **extra,
        }

    def assert_no_password(self, text: str, where: str) -> None:
        for password in self.passwords:
            assert password not in text, f"a SCRAM password appears in {where}"


@contextmanager
def secure_broker(data_dir: Path) -> Iterator[SecureBroker]:
    """Start the secure broker with the CLI on free ports; stop it on exit."""
    port = free_port_pair()
    args = ["--secure", "--port", str(port), "--data-dir", str(data_dir)]
    started = subprocess.run(
        [*NURTURE, "broker", "start", *args],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = started.stdout + started.stderr
    broker = SecureLocalBroker(BrokerSettings(secure=True, port=port, data_dir=data_dir))
    try:
        assert started.returncode == 0, output
        yield SecureBroker(broker, broker.client_settings(), output)
    finally:
        broker.stop()  # the API, not the CLI: a broken import elsewhere must not leak a broker


def test_children_get_no_nurture_settings_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_SASL_PASSWORD", "callers-password")
    monkeypatch.setenv("NURTURE_KAFKA_CACHE", "/tmp/jar-cache")
    env = base_env()
    assert "NURTURE_SASL_PASSWORD" not in env
    assert env["NURTURE_KAFKA_CACHE"] == "/tmp/jar-cache"


def test_free_port_pair_is_two_free_ports() -> None:
    port = free_port_pair()
    for candidate in (port, port + 1):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", candidate))
