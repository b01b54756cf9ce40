"""Every `nurture` command reports a bad setting in one line naming it, exit status 2, never a
traceback (issue #16); bad input files likewise, an unreachable broker with exit status 1.

The commands are enumerated from the typer app, so a new command fails
:func:`test_every_command_has_a_case` until it gets a bad setting of its own below (or is
listed as reading only the global Kafka settings, with the reason). No broker is needed: every
case fails on the setting before a client connects, and the environment points Kafka at a
closed port and the local broker, data and caches at a temporary directory, so a command that
did not fail early would only fail differently (and the test with it).

The cases run in this process (CliRunner, exceptions not caught: a traceback would fail the
test with it); two run the installed ``nurture`` script as the issue's reporter did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from kafka.errors import KafkaTimeoutError
from pydantic import SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner

from deploy.cli.errors import ReportingGroup, settings_class, settings_problems
from deploy.cli.main import app
from producers.gateway.settings import load_gateway_settings
from producers.settings import load_producer_settings
from schemas.errors import ConfigError, KafkaUnavailableError
from schemas.privacy.settings import load_privacy_settings
from schemas.schema_registry.settings import load_schema_registry_settings
from schemas.settings import load_kafka_settings

#: Where Kafka is not: connecting fails at once (connection refused).
CLOSED_BOOTSTRAP = "127.0.0.1:1"
#: A malformed global setting, which every command validates first.
GLOBAL_BAD = {
    "NURTURE_BOOTSTRAP_SERVERS": ("no-port-here", "expected a comma-separated list of host:port"),
    "NURTURE_TOPIC_PARTITIONS": ("abc", "valid integer"),
}
#: Hidden alias groups: their commands are the same as the named group's.
ALIASES = {"topic": "topics"}


@dataclass(frozen=True)
class Bad:
    """A setting of the command's own with a value it must refuse before connecting."""

    variable: str
    value: str


@dataclass(frozen=True)
class Case:
    #: Arguments the command needs to get as far as reading its settings.
    args: tuple[str, ...] = ()
    #: Its own settings, each tried alone.
    bad: tuple[Bad, ...] = ()
    #: Why it has none of its own (it reads the global Kafka settings only, or none at all).
    only_global: str = ""


CASES: dict[str, Case] = {
    "broker start": Case(bad=(Bad("NURTURE_BROKER_NODES", "9"),)),
    "broker stop": Case(bad=(Bad("NURTURE_BROKER_PORT", "abc"),)),
    "broker status": Case(bad=(Bad("NURTURE_BROKER_START_TIMEOUT_S", "soon"),)),
    "broker logs": Case(bad=(Bad("NURTURE_BROKER_SECURE", "perhaps"),)),
    "broker kill": Case(("1",), bad=(Bad("NURTURE_BROKER_PORT", "abc"),)),
    "broker restart": Case(("1",), bad=(Bad("NURTURE_BROKER_PORT", "99999"),)),
    "registry start": Case(bad=(Bad("NURTURE_REGISTRY_PORT", "abc"),)),
    "registry stop": Case(bad=(Bad("NURTURE_REGISTRY_STOP_TIMEOUT_S", "0"),)),
    "registry status": Case(bad=(Bad("NURTURE_REGISTRY_MANAGEMENT_PORT", "99999"),)),
    "registry logs": Case(bad=(Bad("NURTURE_REGISTRY_START_TIMEOUT_S", "soon"),)),
    "schemas register": Case(
        bad=(
            Bad("NURTURE_SCHEMA_REGISTRY_TIMEOUT_S", "soon"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        )
    ),
    "topics create": Case(bad=(Bad("NURTURE_RETENTION_CANDIDATE_ACTIVITY", "a week"),)),
    "topics list": Case(bad=(Bad("NURTURE_SECURITY_PROTOCOL", "TLS"),)),
    "topics describe": Case(bad=(Bad("NURTURE_TOPIC_REPLICATION", "0"),)),
    "topics export": Case(
        ("candidate.activity",),
        bad=(
            Bad("NURTURE_SASL_MECHANISM", "MD5"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        ),
    ),
    "topics import": Case(
        ("candidate.activity",),
        bad=(
            Bad("NURTURE_SSL_CHECK_HOSTNAME", "maybe"),
            Bad("NURTURE_SCHEMA_REGISTRY_TIMEOUT_S", "soon"),
        ),
    ),
    "bench codec": Case(only_global="an in-memory codec benchmark: no broker, no settings"),
    "bench processor": Case(only_global="the worker's processing in memory, shipped model"),
    "bench sdk": Case(bad=(Bad("NURTURE_PRODUCER_COMPRESSION", "rar"),)),
    "bench gateway": Case(
        only_global="starts `nurture gateway` as a child with the keys and limits it chooses"
    ),
    "bench worker": Case(
        only_global="starts its own `nurture worker` children, which check their settings"
    ),
    "bench replay": Case(
        only_global="starts its own `nurture worker` children, which check their settings"
    ),
    "campaigns validate": Case(
        ("deploy/campaigns",), only_global="reads the files it is given (test_bad_input_file)"
    ),
    "campaigns simulate": Case(
        only_global="reads the files its options name, and Kafka (and NURTURE_SCHEMA_REGISTRY_*) "
        "only with --candidate"
    ),
    "erasure verify": Case(
        ("c-1",),
        bad=(
            Bad("NURTURE_WORKER_SESSION_TIMEOUT_S", "long"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        ),
    ),
    "keys rewrap": Case(bad=(Bad("NURTURE_PRIVACY_KEY_SCAN_TIMEOUT_S", "-1"),)),
    "replay rebuild": Case(
        ("--from-beginning", "--yes"),
        bad=(
            Bad("NURTURE_WORKER_STORE", "sqlite://"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        ),
    ),
    "replay shadow": Case(
        bad=(
            Bad("NURTURE_WORKER_CLOCK", "sundial"),
            Bad("NURTURE_SCHEMA_REGISTRY_UNAVAILABLE_RETRY_S", "-1"),
        )
    ),
    "replay diff": Case(
        bad=(
            Bad("NURTURE_WORKER_STORE", "sqlite://"),
            Bad("NURTURE_SCHEMA_REGISTRY_TIMEOUT_S", "0"),
        )
    ),
    "replay drop": Case(("rehearsal",), only_global="deletes a sandbox's topics: Kafka only"),
    "dlq list": Case(only_global="reads the dead-letter topics: Kafka only"),
    "dlq show": Case(
        ("candidate.activity.dlq:0:1",),
        bad=(Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),),
    ),
    "dlq redrive": Case(only_global="reads and re-publishes dead letters: Kafka only"),
    "spec asyncapi": Case(
        only_global="prints the declared topics and schemas; reads no setting (retention "
        "overrides are a deployment's, left out on purpose), connects to nothing"
    ),
    "spec openapi": Case(
        only_global="prints the gateway's routes and models; reads no setting, connects to nothing"
    ),
    "up": Case(
        bad=(
            Bad("NURTURE_GATEWAY_API_KEYS", "ats=short"),
            Bad("NURTURE_BROKER_PORT", "abc"),
            Bad("NURTURE_WORKER_STORE", "sqlite://"),
            Bad("NURTURE_DELIVERY_WEBHOOKS", "{not json"),
            Bad("NURTURE_RETENTION_CANDIDATE_PROFILE", "forever"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        )
    ),
    "worker": Case(
        bad=(
            Bad("NURTURE_WORKER_STORE", "sqlite://"),
            Bad("NURTURE_WORKER_WEB_PORT", "http"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        )
    ),
    "deliver": Case(
        ("--channel", "email"),
        bad=(
            Bad("NURTURE_DELIVERY_SMTP_PORT", "smtp"),
            Bad("NURTURE_DELIVERY_WEBHOOKS", "{not json"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        ),
    ),
    "score": Case(("c-1",), bad=(Bad("NURTURE_WORKER_WEB_PORT", "http"),)),
    "erase": Case(
        ("c-1",),
        bad=(
            Bad("NURTURE_PRODUCER_COMPRESSION", "rar"),
            Bad("NURTURE_SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_S", "-1"),
        ),
    ),
    "gateway": Case(
        bad=(
            Bad("NURTURE_GATEWAY_API_KEYS", "ats=short"),
            Bad("NURTURE_GATEWAY_PORT", "http"),
            Bad("NURTURE_GATEWAY_RATE_LIMITS", "ats=fast"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "ftp://registry:8081"),
        )
    ),
    "publish": Case(
        ("-",),
        bad=(
            Bad("NURTURE_PRODUCER_LINGER_MS", "soon"),
            Bad("NURTURE_SCHEMA_REGISTRY_TIMEOUT_S", "0"),
        ),
    ),
    "simulate": Case(
        ("--events", "5"),
        bad=(
            Bad("NURTURE_PRODUCER_MAX_IN_FLIGHT", "many"),
            Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),
        ),
    ),
    "chaos": Case(  # the children's other settings come from the harness
        bad=(Bad("NURTURE_SCHEMA_REGISTRY_URL", "registry:8081"),)
    ),
    "config": Case(  # reads every model: one of each kind here, all at once in test_config.py
        bad=(
            Bad("NURTURE_GATEWAY_API_KEYS", "ats=short"),
            Bad("NURTURE_DELIVERY_WEBHOOKS", "{not json"),
            Bad("NURTURE_PRIVACY_KEY_SCAN_TIMEOUT_S", "-1"),
            Bad("NURTURE_RETENTION_CANDIDATE_PROFILE", "forever"),
        )
    ),
}


def _leaves(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None)  # a group (typer ships its own click)
    if not subcommands:
        yield prefix
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, (*prefix, name))


COMMANDS = sorted(_leaves(typer.main.get_command(app)))


def _case(path: tuple[str, ...]) -> Case:
    key = " ".join((ALIASES.get(path[0], path[0]), *path[1:]))
    return CASES[key]


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[dict[str, str | None]]:
    """An environment with no NURTURE_* of the caller's, Kafka at a closed port, and the local
    broker's data, jar cache and user directories in ``tmp_path``; settings loaded fresh."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("NURTURE_")}
    env |= {
        "PATH": str(Path(sys.executable).parent),  # no java, no mvn: nothing to start or fetch
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "NURTURE_BOOTSTRAP_SERVERS": CLOSED_BOOTSTRAP,
        "NURTURE_BROKER_DATA_DIR": str(tmp_path / "broker"),
        "NURTURE_BROKER_CLUSTER_DATA_DIR": str(tmp_path / "cluster"),
        "NURTURE_KAFKA_CACHE": str(tmp_path / "jars"),
        "NURTURE_PRIVACY_KEK_FILE": str(tmp_path / "kek"),
    }
    loaders = (
        load_kafka_settings,
        load_producer_settings,
        load_gateway_settings,
        load_schema_registry_settings,
    )
    for loader in (*loaders, load_privacy_settings):
        loader.cache_clear()  # loaded once per process: a test before may have loaded them
    yield env
    for loader in (*loaders, load_privacy_settings):
        loader.cache_clear()


def _nurture(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env=env, input="", catch_exceptions=False)
    return result.exit_code, result.output


def _assert_reported(code: int, output: str, names: str, status: int = 2) -> None:
    assert "Traceback" not in output, output
    assert code == status, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, output
    assert names in output, output


def test_every_command_has_a_case() -> None:
    assert ("gateway",) in COMMANDS and ("broker", "kill") in COMMANDS
    missing = [" ".join(path) for path in COMMANDS if " ".join(path) not in CASES]
    missing = [m for m in missing if m.split()[0] not in ALIASES]
    assert not missing, f"give these commands a bad setting (or a reason) in CASES: {missing}"
    for key, case in CASES.items():
        assert bool(case.bad) != bool(case.only_global), key
        assert tuple(key.split()) in COMMANDS, f"{key} is no longer a command"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("variable", sorted(GLOBAL_BAD))
@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_bad_global_setting_is_one_line_and_exit_2(
    path: tuple[str, ...], variable: str, isolated: dict[str, str | None]
) -> None:
    value, reason = GLOBAL_BAD[variable]
    code, output = _nurture([*path, *_case(path).args], {**isolated, variable: value})
    _assert_reported(code, output, variable)
    assert reason in output and "error:" in output


BAD_SETTINGS = [
    pytest.param(path, bad, id=f"{' '.join(path)} {bad.variable}")
    for path in COMMANDS
    if path[0] not in ALIASES
    for bad in _case(path).bad
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("path", "bad"), BAD_SETTINGS)
def test_a_bad_setting_of_the_command_is_one_line_and_exit_2(
    path: tuple[str, ...], bad: Bad, isolated: dict[str, str | None]
) -> None:
    code, output = _nurture([*path, *_case(path).args], {**isolated, bad.variable: bad.value})
    _assert_reported(code, output, bad.variable)


class _SecretSettings(BaseSettings):
    """A settings model with a secret that can be invalid (the project's accept any text)."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_ERRORS_TEST_")

    token: SecretStr | None = None
    port: int = 1

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("shorter than 16 chars")
        return value


def test_a_secret_setting_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_ERRORS_TEST_TOKEN", "hunter2")
    monkeypatch.setenv("NURTURE_ERRORS_TEST_PORT", "http")
    with pytest.raises(PydanticValidationError) as raised:
        _SecretSettings()
    assert settings_class(raised.value.title) is _SecretSettings
    problems = settings_problems(raised.value, _SecretSettings)
    assert problems == [
        "invalid setting NURTURE_ERRORS_TEST_TOKEN: shorter than 16 chars",
        "invalid setting NURTURE_ERRORS_TEST_PORT: Input should be a valid integer, unable to "
        "parse string as an integer (got 'http')",
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["publish", "{missing}"], "{missing}"),
        (["campaigns", "validate", "{missing}"], "{missing}"),
        (["campaigns", "simulate", "--events", "{missing}"], "{missing}"),
        (["worker", "--model", "{missing}"], "{missing}"),
        (["replay", "shadow", "--config", "{missing}"], "{missing}"),
        (["simulate", "--events", "5", "--output", "{missing}/out.jsonl"], "{missing}"),
        (["simulate", "--via", "gateway", "--api-keys-file", "{missing}"], "{missing}"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_a_missing_input_file_is_one_line_naming_it_and_exit_2(
    args: list[str], names: str, isolated: dict[str, str | None], tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.yaml")
    code, output = _nurture([arg.format(missing=missing) for arg in args], isolated)
    _assert_reported(code, " ".join(output.split()), names.format(missing=missing))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "args", [["erase", "c-1"], ["publish", "-"], ["simulate", "--events", "5"]]
)
def test_an_unreachable_broker_is_one_line_and_exit_1(
    args: list[str], isolated: dict[str, str | None]
) -> None:
    env = {**isolated, "NURTURE_PRODUCER_MAX_BLOCK_MS": "1000"}  # give up within a second
    code, output = _nurture(args, env)
    _assert_reported(code, output, f"no Kafka broker at {CLOSED_BOOTSTRAP}", status=1)


def _failing_app(error: BaseException) -> typer.Typer:
    """A CLI whose one command raises ``error``, reported as `nurture` reports it."""
    failing = typer.Typer(cls=ReportingGroup)

    @failing.callback()
    def root() -> None:
        pass

    @failing.command()
    def run() -> None:
        raise error

    return failing


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (ConfigError("NURTURE_X: too short"), 2, "error: NURTURE_X: too short"),
        (KafkaUnavailableError("Kafka is down"), 1, "error: Kafka is down"),
        (
            KafkaTimeoutError("Unable to bootstrap"),
            1,
            "error: Kafka: KafkaTimeoutError: Unable to bootstrap (is it running? "
            "NURTURE_BOOTSTRAP_SERVERS or --bootstrap says where)",
        ),
        (
            FileNotFoundError(2, "No such file or directory", "in.jsonl"),
            2,
            "error: in.jsonl: No such file or directory",
        ),
        (ConnectionRefusedError(111, "Connection refused"), 1, "error: Connection refused"),
        (ConfigError("[/BURST] is no markup"), 2, "error: [/BURST] is no markup"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_what_escapes_a_command_is_one_line_with_its_status(
    error: BaseException, status: int, line: str
) -> None:
    result = CliRunner().invoke(_failing_app(error), ["run"], catch_exceptions=False)
    assert result.exit_code == status
    assert result.output.splitlines() == [line]


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        CliRunner().invoke(_failing_app(ZeroDivisionError()), ["run"], catch_exceptions=False)


def _run_installed(env: dict[str, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "nurture"
    clean = {name: value for name, value in {**os.environ, **env}.items() if value is not None}
    return subprocess.run(
        [str(script), *args], env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_reported_gateway_key_is_one_line_from_the_installed_script(
    isolated: dict[str, str | None],
) -> None:
    """The issue's report: ``NURTURE_GATEWAY_API_KEYS='ats=short' nurture gateway``."""
    done = _run_installed({**isolated, "NURTURE_GATEWAY_API_KEYS": "ats=short"}, "gateway")
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: NURTURE_GATEWAY_API_KEYS: the key of source 'ats' is shorter than 16 chars"
    )


def test_a_bad_global_setting_is_one_line_from_the_installed_script(
    isolated: dict[str, str | None],
) -> None:
    done = _run_installed({**isolated, "NURTURE_TOPIC_PARTITIONS": "abc"}, "worker")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: invalid setting NURTURE_TOPIC_PARTITIONS: ")
    assert line.endswith("(got 'abc')")
