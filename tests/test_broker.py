"""`nurture broker`: a second real broker on free ports, started, inspected and stopped."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy.broker import config, jars
from deploy.broker.process import LocalBroker, answers_metadata
from deploy.broker.settings import BrokerSettings, JarCacheSettings
from schemas.errors import BrokerError
from schemas.settings import KafkaSettings


@pytest.fixture(autouse=True)
def _broker_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests name their ports and data dirs or check the defaults: the broker settings of
    the environment (e.g. a CI run on other ports) must not leak into them."""
    for name in ("NURTURE_BROKER_PORT", "NURTURE_BROKER_CONTROLLER_PORT", "NURTURE_BROKER_SECURE"):
        monkeypatch.delenv(name, raising=False)


def _free_port_pair() -> int:
    """A port p such that p and p+1 are both free (listener and controller)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return int(port)
    raise RuntimeError("no free port pair")


@pytest.mark.kafka  # starts a real broker of its own (Java and the jar cache)
def test_start_status_stop_of_a_real_broker(tmp_path: Path) -> None:
    port = _free_port_pair()
    broker = LocalBroker(BrokerSettings(port=port, data_dir=tmp_path / "kafka"))
    assert not broker.status().running

    status, started = broker.start()
    try:
        assert started
        assert status.running
        assert status.pid is not None
        assert status.listener == f"127.0.0.1:{port}"
        assert status.kafka_version == jars.kafka_version()
        assert status.kafka_version.startswith("4.")
        assert answers_metadata(KafkaSettings(bootstrap_servers=status.listener))
        assert (tmp_path / "kafka" / "broker.log").stat().st_size > 0

        again, started_again = broker.start()
        assert not started_again, "a second start must say it is already running"
        assert again.pid == status.pid
    finally:
        assert broker.stop()

    assert not broker.status().running
    assert not answers_metadata(KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"), 1.0)
    assert not broker.stop(), "stopping a stopped broker reports it was not running"


@pytest.mark.kafka  # starts a real broker of its own (Java and the jar cache)
def test_data_dir_persists_across_restarts(tmp_path: Path) -> None:
    port = _free_port_pair()
    broker = LocalBroker(BrokerSettings(port=port, data_dir=tmp_path / "kafka"))
    try:  # stopped whatever happens: a broker left running outlives the test session
        broker.start()
        meta = (tmp_path / "kafka" / "data" / "meta.properties").read_text()
        broker.stop()
        broker.start()
        assert (tmp_path / "kafka" / "data" / "meta.properties").read_text() == meta
    finally:
        broker.stop()


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java on PATH
    with pytest.raises(BrokerError, match=r"Java 17\+ is required"):
        jars.require_java()


def test_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_java = tmp_path / "java"
    fake_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake_java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="found Java 11"):
        jars.require_java()


def test_server_properties_are_single_node_kraft(tmp_path: Path) -> None:
    settings = BrokerSettings(port=29092, data_dir=tmp_path)
    props = dict(
        line.split("=", 1)
        for line in config.server_properties(settings, tmp_path / "data").splitlines()
    )
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"


def test_jar_cache_is_outside_the_repository() -> None:
    repo = Path(__file__).resolve().parents[1]
    cache = JarCacheSettings().cache.resolve()
    assert repo not in cache.parents
    assert jars.libs_dir(cache, "4.1.1") == cache / "4.1.1" / "libs"


def test_start_refuses_a_port_held_by_another_process(tmp_path: Path) -> None:
    port = _free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        broker = LocalBroker(BrokerSettings(port=port, data_dir=tmp_path / "kafka"))
        with pytest.raises(BrokerError, match=f"127.0.0.1:{port} is already in use"):
            broker.start()
    assert not broker.status().running
