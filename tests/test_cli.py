"""The `nurture` CLI: one entry point, --help on every command, global flags reach every client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from deploy.cli.main import app
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from tests.kafka_helpers import unique

runner = CliRunner()


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    subcommands = getattr(command, "commands", None)  # a group (typer ships its own click)
    if subcommands:
        for name, sub in subcommands.items():
            paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    paths = _command_paths(root)
    assert ("broker", "start") in paths and ("topics", "create") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output, path


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "nurture"
    assert script.exists(), "pip install -e . must install the `nurture` console script"
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "broker" in result.stdout


def test_bootstrap_flag_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NURTURE_BOOTSTRAP_SERVERS", raising=False)
    assert KafkaSettings().bootstrap_servers == "127.0.0.1:9092"
    result = runner.invoke(app, ["--bootstrap", "127.0.0.1:1", "topics", "list"])
    assert result.exit_code == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in result.output


def test_env_var_sets_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_BOOTSTRAP_SERVERS", "127.0.0.1:2")
    result = runner.invoke(app, ["topics", "list"])
    assert result.exit_code == 1
    assert "127.0.0.1:2" in result.output


def test_bad_bootstrap_is_a_clear_error() -> None:
    result = runner.invoke(app, ["--bootstrap", "no-port-here", "topics", "list"])
    assert result.exit_code == 2  # a configuration error; tests/test_cli_errors.py has them all
    assert "invalid setting NURTURE_BOOTSTRAP_SERVERS: expected" in result.output
    assert "Traceback" not in result.output


def test_refused_topic_creation_is_a_clear_error(kafka_base: KafkaSettings) -> None:
    prefix = unique("refused") + "."
    result = runner.invoke(
        app,
        ["--topic-prefix", prefix, "topics", "create"],
        env={"NURTURE_TOPIC_REPLICATION": "3"},  # one broker cannot hold three replicas
    )
    assert result.exit_code == 1, result.output
    assert "cannot create" in result.output and "replication 3" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_security_settings_reach_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("NURTURE_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("NURTURE_SASL_USERNAME", "nurture")
    monkeypatch.setenv("NURTURE_SASL_PASSWORD", "s3cret-value")
    settings = KafkaSettings()
    config = clients.kafka_python_options(settings)
    assert config["security_protocol"] == "SASL_PLAINTEXT"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_password"] == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert clients.aiokafka_options(settings)["sasl_plain_username"] == "nurture"
