"""The Schema Registry mode's credentials never reach output (found in review, issue #18): a
password in the URL was printed by `nurture config` and logged by httpx at INFO, so the URL may
carry none, and a refused URL is not repeated in the error line. No registry, no broker."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from deploy.cli.main import app
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.settings import SchemaRegistrySettings

SECRET = "hunter2-pass-0f3c"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("NURTURE_"):
            monkeypatch.delenv(name)
    yield


def test_a_url_with_credentials_is_refused_without_repeating_them() -> None:
    with pytest.raises(ValidationError, match="NURTURE_SCHEMA_REGISTRY_USERNAME"):
        SchemaRegistrySettings(url=f"https://ci:{SECRET}@sr.example.com/apis/ccompat/v7")
    env = {"NURTURE_SCHEMA_REGISTRY_URL": f"https://ci:{SECRET}@sr.example.com/apis/ccompat/v7"}
    for args in (["config", "--check"], ["config"], ["config", "--json"]):
        result = CliRunner().invoke(app, args, env=env)
        assert SECRET not in result.output and SECRET not in result.stderr, args
    checked = CliRunner().invoke(app, ["config", "--check"], env=env)
    assert checked.exit_code == 2
    assert "invalid setting NURTURE_SCHEMA_REGISTRY_URL" in checked.stderr


def test_the_client_keeps_httpx_request_lines_out_of_the_log() -> None:
    logging.getLogger("httpx").setLevel(logging.INFO)
    settings = SchemaRegistrySettings(url="http://127.0.0.1:9/apis/ccompat/v7")
    client = SchemaRegistryClient(settings)
    try:
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        client.close()
