"""`nurture registry`: a real local Apicurio Registry on free ports, started, used through its
Confluent-compatible API with plain HTTP, and stopped; and the checks that come before any
start (Java 21+, the cache, the ports), without a registry.

The tests that start one are ``registry`` tests: they need Java 21+ and the release in the
cache (downloaded on first use), and stop their registry whatever fails.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from deploy.registry import download
from deploy.registry.errors import RegistryError
from deploy.registry.java import MIN_JAVA, find_java
from deploy.registry.process import LocalRegistry, ensure_local_registry
from deploy.registry.settings import RegistrySettings, local_registry_for
from schemas.errors import ConfigError
from tests.test_secure_broker_support import free_port_pair

#: What the Confluent-compatible API takes and answers.
SR_JSON = "application/vnd.schemaregistry.v1+json"
SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "RegistryProbe",
        "namespace": "nurture.test",
        "fields": [{"name": "candidate_id", "type": "string"}],
    }
)


@pytest.fixture(autouse=True)
def _registry_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests name their ports and data dirs: those of the environment must not leak in (the
    cache and the Java home stay: CI sets them)."""
    for name in (
        "NURTURE_REGISTRY_PORT",
        "NURTURE_REGISTRY_MANAGEMENT_PORT",
        "NURTURE_REGISTRY_DATA_DIR",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[RegistrySettings]:
    """Settings of a registry on free ports in ``tmp_path``; whatever a test started there is
    stopped at the end (a registry left running outlives the session)."""
    registry_settings = RegistrySettings(port=free_port_pair(), data_dir=tmp_path / "registry")
    try:
        yield registry_settings
    finally:
        LocalRegistry(registry_settings).stop()


def _nurture(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _fake_jdk(home: Path, version: str, *, release_file: bool = True) -> Path:
    """A folder that looks like a JDK of ``version`` (its bin/java only prints the version)."""
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-01-01' >&2\n")
    java.chmod(0o755)
    if release_file:
        (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return home


# -- a real registry ------------------------------------------------------------------------


@pytest.mark.registry
def test_start_register_read_back_and_stop_through_the_cli(settings: RegistrySettings) -> None:
    where = ("--data-dir", str(settings.data_dir))
    code, output = _nurture("registry", "start", "--port", str(settings.port), *where)
    assert code == 0, output
    assert "started" in output
    assert settings.url == f"http://127.0.0.1:{settings.port}/apis/ccompat/v7"
    assert settings.url in output

    code, output = _nurture("registry", "status", "--json", *where)
    assert code == 0, output
    status = json.loads(output)
    assert status["running"] and status["url"] == settings.url
    assert status["version"] == download.VERSION

    with httpx.Client(base_url=status["url"], headers={"Content-Type": SR_JSON}) as client:
        subject = "candidate.activity-value"
        registered = client.post(f"/subjects/{subject}/versions", json={"schema": SCHEMA})
        assert registered.status_code == 200, registered.text
        schema_id = registered.json()["id"]
        latest = client.get(f"/subjects/{subject}/versions/latest").json()
        assert latest["id"] == schema_id and latest["version"] == 1
        assert json.loads(latest["schema"]) == json.loads(SCHEMA)
        assert json.loads(client.get(f"/schemas/ids/{schema_id}").json()["schema"]) == json.loads(
            SCHEMA
        )
        assert client.get("/subjects").json() == [subject]

    # a second start does not start another: it says the registry runs, and where
    code, output = _nurture("registry", "start", "--port", str(settings.port), *where)
    assert code == 0, output
    assert "already running" in output and f"pid {status['pid']}" in output

    code, output = _nurture("registry", "stop", *where)
    assert code == 0 and "registry stopped" in output, output
    code, output = _nurture("registry", "status", "--json", *where)
    assert code == 1, output
    assert json.loads(output)["running"] is False
    with pytest.raises(httpx.ConnectError):
        httpx.get(settings.url + "/subjects")
    code, output = _nurture("registry", "stop", *where)
    assert "was not running" in output


@pytest.mark.registry
def test_ensure_local_registry_starts_one_once(settings: RegistrySettings) -> None:
    """What `nurture up` calls: the URL of a running registry, started only when none runs."""
    url = ensure_local_registry(settings)
    assert url == settings.url
    registry = LocalRegistry(settings)
    pid = registry.status().pid
    assert ensure_local_registry(settings) == url
    assert registry.status().pid == pid
    assert httpx.get(url + "/subjects").json() == []  # in memory: it starts empty
    assert "started in" in registry.log_tail()  # Quarkus's start-up line went to the log


# -- before any start ------------------------------------------------------------------------


def test_a_java_home_without_java_is_a_clear_error(settings: RegistrySettings) -> None:
    missing = settings.data_dir.parent / "no-jdk-here"
    result = CliRunner().invoke(
        app,
        ["registry", "start", "--port", str(settings.port), "--data-dir", str(settings.data_dir)],
        env={"NURTURE_REGISTRY_JAVA_HOME": str(missing)},
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"NURTURE_REGISTRY_JAVA_HOME={missing} has no bin/java" in " ".join(
        result.output.split()
    )
    assert not LocalRegistry(settings).status().running


def test_a_java_home_older_than_21_is_refused(tmp_path: Path) -> None:
    old = _fake_jdk(tmp_path / "jdk-17", "17.0.2", release_file=False)  # read from java -version
    with pytest.raises(RegistryError, match=r"is Java 17; .* needs Java 21\+"):
        find_java(old)


def test_no_java_21_anywhere_names_what_was_found(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    _fake_jdk(jvm / "java-17-openjdk", "17.0.15")
    with pytest.raises(RegistryError, match=r"needs Java 21\+, and none was found") as raised:
        find_java(None, environ={"PATH": str(tmp_path / "empty")}, jvm_dirs=(jvm,))
    assert f"{jvm / 'java-17-openjdk'} (Java 17)" in str(raised.value)
    assert "NURTURE_REGISTRY_JAVA_HOME" in str(raised.value)


def test_the_newest_jdk_21_plus_is_found_without_settings(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    _fake_jdk(jvm / "a-java-17", "17.0.15")
    _fake_jdk(jvm / "b-temurin-25", "25.0.3")
    _fake_jdk(jvm / "c-java-21", "21.0.7")
    (jvm / "z-link-to-25").symlink_to(jvm / "b-temurin-25")
    found = find_java(None, environ={"PATH": str(tmp_path / "empty")}, jvm_dirs=(jvm,))
    assert (found.home.name, found.major) == ("b-temurin-25", 25)
    # JAVA_HOME comes first when it is new enough
    java_home = {"JAVA_HOME": str(jvm / "c-java-21"), "PATH": ""}
    assert find_java(None, environ=java_home, jvm_dirs=(jvm,)).major == 21
    assert MIN_JAVA == 21


def test_start_refuses_a_port_held_by_another_process(settings: RegistrySettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.management))
        squatter.listen()
        with pytest.raises(RegistryError, match=f"127.0.0.1:{settings.management} is already"):
            LocalRegistry(settings).start()
    assert not LocalRegistry(settings).status().running


def test_the_cache_is_outside_the_repository() -> None:
    repo = Path(__file__).resolve().parents[1]
    cache = RegistrySettings().cache.resolve()
    assert repo not in cache.parents
    assert download.release_dir(cache) == cache / download.VERSION


def test_a_warm_cache_is_used_without_fetching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = download.release_dir(tmp_path)
    release.mkdir(parents=True)
    (release / download.RUNNER_JAR).touch()

    def no_fetch(*args: object, **kwargs: object) -> Path:
        raise AssertionError("a warm cache must not be fetched again")

    monkeypatch.setattr(download, "_fetch", no_fetch)
    assert download.ensure_release(tmp_path) == release


def test_an_archive_with_another_checksum_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "apicurio-registry-app-all.tar.gz"
    archive.write_bytes(b"a truncated or altered download")
    with pytest.raises(RegistryError, match="does not match its pinned SHA-256"):
        download._verified(archive)


def test_settings_defaults() -> None:
    defaults = RegistrySettings()
    assert defaults.port == 8081 and defaults.management == 8082
    assert defaults.url == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert RegistrySettings(port=9000, management_port=9100).management == 9100


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://sr.example.com/apis/ccompat/v7", None),  # not this machine: only used
        ("http://127.0.0.1:9000/apis/ccompat/v7", 9000),
        ("http://localhost:9000/apis/ccompat/v7/", 9000),
        (None, None),  # the mode is off
    ],
)
def test_the_local_registry_a_schema_registry_url_names(url: str | None, expected: int) -> None:
    local = local_registry_for(url)
    assert (local and local.port) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000/apis/ccompat/v7"),
        ("http://localhost:9000/apis/ccompat", "http://localhost:9000/apis/ccompat/v7"),
        ("https://127.0.0.1:9000/apis/ccompat/v7", "http://127.0.0.1:9000/apis/ccompat/v7"),
        ("http://127.0.0.1/apis/ccompat/v7", "http://127.0.0.1:8081/apis/ccompat/v7"),
    ],
)
def test_a_local_url_that_is_not_the_registrys_api_names_the_one_to_set(
    url: str, expected: str
) -> None:
    said = f"not its Confluent-compatible API: set it to {expected}"
    with pytest.raises(ConfigError, match=re.escape(said) + "$"):
        local_registry_for(url)


def test_nurture_up_with_the_base_url_of_a_local_registry_stops_before_starting_anything() -> None:
    """Before, it started the broker and the registry, then ended in the registry's raw 404."""
    port = free_port_pair()
    env = {
        "NURTURE_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{port}",
        # nothing answers there: had `nurture up` reached for Kafka, it would end with exit 1
        "NURTURE_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port_pair()}",
    }
    result = CliRunner().invoke(app, ["up", "--no-ui"], env=env)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"set it to http://127.0.0.1:{port}/apis/ccompat/v7" in said
    assert "404" not in said and "Kafka" not in said
