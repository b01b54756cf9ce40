"""`nurture config` (issue #16, item 5): the effective settings of every process with secrets
masked, `--check` reporting every invalid setting at once, and docs/configuration.md generated
from the settings models and kept fresh. No broker: the command never connects."""

from __future__ import annotations

import ast
import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli import config_docs, config_report
from deploy.cli.main import app
from deploy.cli.settings_fields import groups, is_masked, leaves
from deploy.cli.settings_registry import (
    EVERY_PROCESS,
    RETENTION_READERS,
    SDK,
    SETTINGS_MODELS,
)
from schemas.settings import KafkaSettings
from tests.test_cli_errors import CASES, COMMANDS

ROOT = Path(__file__).resolve().parent.parent
#: The packages of the project, where settings models live.
PACKAGES = ("schemas", "producers", "streams", "consumers", "deploy")
#: A valid key-encryption key (32 bytes, base64url).
KEK = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
#: Secret values that must never be printed, by the variable that carries them.
SECRETS = {
    "NURTURE_SASL_PASSWORD": "sasl-pass-0f3c9a1b",
    "NURTURE_SSL_KEY_PASSWORD": "tls-key-pass-77aa",
    "NURTURE_GATEWAY_API_KEYS": "ats=ats-key-5b2e8c1d9f0a",
    "NURTURE_DELIVERY_SMTP_PASSWORD": "smtp-pass-4d4d",
    "NURTURE_DELIVERY_TRACKING_SECRET": "tracking-key-8e1f2a3b4c5d6e7f",
    "NURTURE_DELIVERY_WEBHOOK_SECRET": "webhook-key-1a2b3c4d5e6f7a8b",
    "NURTURE_WORKER_ERASURE_SECRET": "erasure-key-9f8e7d6c",
    "NURTURE_PRIVACY_KEK": KEK,
}


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No NURTURE_* of the caller's, and the per-user directories in ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith("NURTURE_"):
            monkeypatch.delenv(name)
    for variable, folder in (("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    yield tmp_path
    assert not (tmp_path / "data").exists(), "nurture config made a file (a generated key?)"


def _nurture(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# -- the registry ---------------------------------------------------------------------------


def _settings_classes_in_source() -> set[tuple[str, str]]:
    """``(module, class)`` of every BaseSettings subclass defined in the project's packages."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                bases = [
                    getattr(base, "id", getattr(base, "attr", ""))
                    for base in getattr(node, "bases", [])
                ]
                if isinstance(node, ast.ClassDef) and SETTINGS_BASES & set(bases):
                    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                    found.add((module, node.name))
    return found


#: What a settings model derives from.
SETTINGS_BASES = {"BaseSettings", "GroupedSettings", "SettingsGroup"}
#: Bases of settings models, not models.
BASES = {("schemas.settings", "GroupedSettings"), ("schemas.settings", "SettingsGroup")}


def test_every_settings_model_of_the_project_is_in_the_registry() -> None:
    """Each model is registered, or a nested group of one (``DeliverySettings.smtp``)."""
    registered = {
        (model.__module__, model.__name__)
        for entry in SETTINGS_MODELS
        for model in (entry.model, *(group for _, group in groups(entry.model)))
    }
    assert _settings_classes_in_source() - BASES == registered


def test_every_reader_is_a_command_or_the_sdk() -> None:
    commands = {" ".join(path[:depth]) for path in COMMANDS for depth in range(1, len(path) + 1)}
    readers = {reader for entry in SETTINGS_MODELS for reader in entry.readers}
    assert readers | set(RETENTION_READERS) <= commands | {SDK, EVERY_PROCESS}


def _readers_of(variable: str) -> tuple[str, ...]:
    if variable.startswith("NURTURE_RETENTION_"):
        return RETENTION_READERS
    readers = [
        entry.readers
        for entry in SETTINGS_MODELS
        for leaf in leaves(entry.model)
        if leaf.variable == variable
    ]
    assert readers, f"{variable} is no setting of a registered model"
    return tuple(reader for found in readers for reader in found)


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_command_with_a_bad_setting_of_a_model_is_one_of_its_readers(command: str) -> None:
    """tests/test_cli_errors.py shows which commands refuse which settings: each of those
    commands must be listed as reading that model (`config` reads them all, to show them)."""
    if command == "config":
        return
    for bad in CASES[command].bad:
        readers = _readers_of(bad.variable)
        assert EVERY_PROCESS in readers or any(
            command == reader or command.startswith(f"{reader} ") for reader in readers
        ), f"`nurture {command}` reads {bad.variable}: add it to its model's readers"


# -- docs/configuration.md ------------------------------------------------------------------


def test_docs_configuration_md_is_fresh() -> None:
    committed = (ROOT / config_docs.DOC_PATH).read_text(encoding="utf-8")
    assert committed == config_docs.render(), (
        f"{config_docs.DOC_PATH} is stale: regenerate it with {config_docs.REGENERATE}"
    )


def test_every_setting_has_a_type_default_and_description() -> None:
    for entry in SETTINGS_MODELS:
        for leaf in leaves(entry.model):
            where = leaf.variable
            assert config_docs.description(leaf.owner, leaf.name), f"{where} has no description"
            assert config_docs.type_text(leaf.field) and config_docs.default_text(leaf.field), where


def test_the_docs_do_not_depend_on_the_machine_or_environment(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = config_docs.render()
    monkeypatch.setenv("HOME", str(environment / "elsewhere"))
    monkeypatch.setenv("XDG_DATA_HOME", str(environment / "other-data"))
    monkeypatch.setenv("NURTURE_BROKER_PORT", "1234")
    monkeypatch.setenv("NURTURE_TOPIC_PARTITIONS", "not a number")
    assert config_docs.render() == before
    assert "<user data dir>/kafka" in before and str(environment) not in before


def test_the_docs_list_each_variable_with_its_type_default_and_readers() -> None:
    text = config_docs.render()
    row = "| `NURTURE_GATEWAY_PORT` | int, ≥ 0, ≤ 65535 | `8080` | TCP port (0: any free port). |"
    assert row in text
    assert "| `NURTURE_WORKER_STORE` | one of `rocksdb://`, `memory://` | `rocksdb://` |" in text
    assert "read by `nurture gateway`, `nurture up`." in text
    assert "| `NURTURE_RETENTION_CANDIDATE_ACTIVITY` | int | 400 days |" in text
    assert text.count("\n| `NURTURE_") == sum(
        len(list(leaves(entry.model))) for entry in SETTINGS_MODELS
    ) + len(config_report.retention_settings())


def test_docs_is_printed_by_the_command(environment: Path) -> None:
    code, out, _ = _nurture("config", "--docs")
    assert code == 0 and out == config_docs.render()
    code, _, err = _nurture("config", "--docs", "--check")
    assert code == 2 and "--docs prints the reference only" in err


# -- nurture config -------------------------------------------------------------------------


def test_config_prints_every_setting_and_where_it_came_from(environment: Path) -> None:
    env = {"NURTURE_WORKER_WEB_PORT": "7077"}
    code, out, err = _nurture("--bootstrap", "kafka-1:9092", "config", env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert "NURTURE_BOOTSTRAP_SERVERS" in lines[1] and lines[1].endswith("kafka-1:9092  (option)")
    assert any(
        line.split() == ["NURTURE_WORKER_WEB_PORT", "7077", "(environment)"] for line in lines
    )
    assert any(line.split() == ["NURTURE_GATEWAY_PORT", "8080"] for line in lines)
    assert any(line.split() == ["NURTURE_SASL_PASSWORD", "(unset)"] for line in lines)
    headings = [line for line in lines if line.startswith("# ")]
    assert len(headings) == len(SETTINGS_MODELS) + 1  # and the topics' retention
    assert headings[2] == "# HTTP gateway (GatewaySettings): read by nurture gateway, nurture up"


def test_config_masks_every_secret(environment: Path) -> None:
    env = {**SECRETS, "NURTURE_SSL_KEYFILE": "/etc/nurture/client.key"}
    code, out, err = _nurture("config", env=env)
    assert code == 0, err
    code_json, out_json, _ = _nurture("config", "--json", env=env)
    assert code_json == 0
    for variable, secret in SECRETS.items():
        shown = secret.partition("=")[2] or secret  # the API key, not its source name
        assert shown not in out and shown not in out_json, variable
        assert any(line.split() == [variable, "****", "(environment)"] for line in out.splitlines())
    assert "/etc/nurture/client.key" in out  # where the key is is no secret


def test_masking_goes_by_type_and_by_name() -> None:
    fields = {**KafkaSettings.model_fields}
    assert is_masked("sasl_password", fields["sasl_password"], "x")  # SecretStr
    assert not is_masked("ssl_keyfile", fields["ssl_keyfile"], Path("/k.pem"))  # a path
    plain = fields["sasl_username"]  # str, so only the name decides
    assert is_masked("api_keys", plain, "ats=k")
    assert is_masked("smtp_token", plain, "t")
    assert not is_masked("sasl_username", plain, "me")
    assert not is_masked("key_scan_timeout_s", plain, 60.0)  # a number carries no secret
    assert is_masked("webhooks", plain, {"crm": "https://hooks.example/t/abc123"})  # URLs


def test_json_has_every_model_and_its_readers(environment: Path) -> None:
    code, out, _ = _nurture("config", "--json", env={"NURTURE_TOPIC_PREFIX": "staging."})
    assert code == 0
    document = json.loads(out)
    assert document["valid"] is True and document["problems"] == []
    models = document["models"]
    assert [model["model"] for model in models] == [e.model.__name__ for e in SETTINGS_MODELS]
    assert models[0]["read_by"] == [EVERY_PROCESS]
    prefix = next(s for s in models[0]["settings"] if s["variable"] == "NURTURE_TOPIC_PREFIX")
    assert prefix == {
        "variable": "NURTURE_TOPIC_PREFIX",
        "value": "staging.",
        "source": "environment",
    }
    assert {s["variable"] for s in document["retention_days"]} >= {
        "NURTURE_RETENTION_CANDIDATE_ACTIVITY"
    }


# -- nurture config --check -----------------------------------------------------------------


def test_check_is_quiet_and_exits_0_when_everything_is_valid(environment: Path) -> None:
    code, out, err = _nurture("config", "--check", env=SECRETS)
    assert (code, err) == (0, "")
    assert out.startswith("ok: all ") and out.endswith(" settings are valid\n")


#: Invalid settings of every kind, each named in exactly one line of `--check`.
INVALID = {
    "NURTURE_TOPIC_PARTITIONS": "abc",  # the global model
    "NURTURE_SASL_MECHANISM": "MD5",
    "NURTURE_PRODUCER_COMPRESSION": "rar",
    "NURTURE_GATEWAY_API_KEYS": "ats=short",  # a ConfigError of the field's own parser
    "NURTURE_GATEWAY_PORT": "http",  # ... and one behind it in the same model
    "NURTURE_WORKER_STORE": "sqlite://",
    "NURTURE_WORKER_WEB_PORT": "99999",
    "NURTURE_DELIVERY_WEBHOOKS": "{not json",  # pydantic-settings cannot parse it at all
    "NURTURE_DELIVERY_SMTP_PORT": "smtp",  # ... and behind it
    "NURTURE_DELIVERY_TRACKING_SECRET": "change-me",  # refused when delivery starts
    "NURTURE_PRIVACY_KEK": "too-short",
    "NURTURE_BROKER_NODES": "9",
    "NURTURE_RETENTION_CANDIDATE_ACTIVITY": "a week",
}


def test_check_reports_every_invalid_setting_once_and_exits_2(environment: Path) -> None:
    code, out, err = _nurture("config", "--check", env=INVALID)
    assert code == 2 and out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith("error: ") for line in lines), err
    for variable in INVALID:
        assert len([line for line in lines if variable in line]) == 1, (variable, err)
    assert len(lines) == len(INVALID)  # the tracking secret, read by two models, once
    assert "change-me" not in err and "short" not in err.replace("shorter", "")


def test_check_json_lists_the_problems(environment: Path) -> None:
    env = {"NURTURE_GATEWAY_RATE_LIMIT_BURST": "10", "NURTURE_DELIVERY_SMTP_PORT": "smtp"}
    code, out, _ = _nurture("config", "--check", "--json", env=env)
    assert code == 2
    document = json.loads(out)
    assert document == {
        "valid": False,
        "problems": [
            "invalid NURTURE_GATEWAY_* settings: rate_limit_burst (10) must hold one full batch "
            "(max_batch_events=500), or big batches could never pass",
            "invalid setting NURTURE_DELIVERY_SMTP_PORT: Input should be a valid integer, "
            "unable to parse string as an integer (got 'smtp')",
        ],
    }


def test_plain_config_reports_the_problems_instead_of_the_settings(environment: Path) -> None:
    code, out, err = _nurture("config", env={"NURTURE_BROKER_PORT": "abc"})
    assert code == 2 and out == ""
    assert err.startswith("error: invalid setting NURTURE_BROKER_PORT: ")


def test_a_bad_global_flag_is_reported_by_the_check(environment: Path) -> None:
    code, _, err = _nurture("--bootstrap", "no-port", "config", "--check")
    assert code == 2
    assert err.splitlines() == [
        "error: invalid setting NURTURE_BOOTSTRAP_SERVERS: expected a comma-separated list of "
        "host:port (got 'no-port')"
    ]


def test_the_check_leaves_the_environment_as_it_was(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_DELIVERY_WEBHOOKS", "{not json")
    monkeypatch.setenv("nurture_delivery_smtp_port", "smtp")  # any case, as pydantic reads it
    before = dict(os.environ)
    found = config_report.problems(config_report.load_all({}))
    assert len(found) == 2
    assert dict(os.environ) == before
