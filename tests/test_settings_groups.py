"""Nested settings (issue #17, item 4): a model holds a frozen group per concern
(``DeliverySettings.smtp``, ``WorkerSettings.kafka``), and every variable keeps the flat
``NURTURE_*`` name it had before, reaching the field its group keeps. No broker."""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from consumers.settings import DeliverySettings
from deploy.cli.main import app
from deploy.cli.settings_fields import Leaf, groups, leaves
from streams.worker.settings import WorkerSettings

#: The models with groups, and every variable each read when it was flat (docs/configuration.md
#: at 5b2af0c): the names are the interface, so none may change or go.
FLAT_NAMES: dict[type[BaseSettings], frozenset[str]] = {
    DeliverySettings: frozenset(
        f"NURTURE_DELIVERY_{name}"
        for name in [
            "DATA_DIR",
            "GROUP_PREFIX",
            "WEBHOOKS",
            "WEBHOOK_SECRET",
            "WEBHOOK_SECRET_FILE",
            "AD_AUDIENCE_ENDPOINT",
            "RECRUITER_ALERT_ENDPOINT",
            "HTTP_TIMEOUT_S",
            "POLL_TIMEOUT_MS",
            "MAX_POLL_RECORDS",
            "MAX_POLL_INTERVAL_S",
            "STALL_TIMEOUT_S",
            "REBALANCE_LIMIT_S",
            "LIVENESS_CHECK_S",
            "RETRY_BASE_S",
            "RETRY_MAX_DELAY_S",
            "RETRY_HORIZON_S",
            "RATE_PER_S",
            "RATE_BURST",
            "SMTP_HOST",
            "SMTP_PORT",
            "SMTP_SECURITY",
            "SMTP_USERNAME",
            "SMTP_PASSWORD",
            "SMTP_TIMEOUT_S",
            "SMTP_IDLE_TIMEOUT_S",
            "SMTP_MAX_MESSAGES",
            "SMTP_CAFILE",
            "OUTBOX_DIR",
            "MAIL_FROM",
            "TEMPLATES_DIR",
            "GATEWAY_URL",
            "UNSUBSCRIBE_MAILTO",
            "TRACKING_SECRET",
            "TRACKING_SECRET_FILE",
            "TOKEN_TTL_DAYS",
            "UNSUBSCRIBE_TTL_DAYS",
            "METRICS_PORT",
            "METRICS_HOST",
        ]
    ),
    WorkerSettings: frozenset(
        f"NURTURE_WORKER_{name}"
        for name in [
            "APP_ID",
            "STORE",
            "DATA_DIR",
            "WEB_HOST",
            "WEB_PORT",
            "MODEL_PATH",
            "CAMPAIGNS_PATH",
            "CAMPAIGNS",
            "CATALOG_PATH",
            "BATCH_SIZE",
            "BATCH_WITHIN_S",
            "COMMIT_INTERVAL_S",
            "LINGER_MS",
            "PRODUCER_BATCH",
            "MAX_RECORD_BYTES",
            "STALL_TIMEOUT_S",
            "FETCH_MIN_BYTES",
            "FETCH_MAX_WAIT_MS",
            "SESSION_TIMEOUT_S",
            "STANDBY_REPLICAS",
            "GROUP_INSTANCE_ID",
            "LOG_LEVEL",
            "INGEST",
            "CLOCK",
            "TIMER_INTERVAL_S",
            "ERASURE_SECRET",
            "ERASURE_SECRET_FILE",
        ]
    ),
}
MODELS = list(FLAT_NAMES)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("NURTURE_"):
            monkeypatch.delenv(name)
    yield


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_flat_variable_is_kept(model: type[BaseSettings]) -> None:
    assert {leaf.variable for leaf in leaves(model)} == FLAT_NAMES[model]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_the_model_is_made_of_frozen_groups(model: type[BaseSettings]) -> None:
    found = list(groups(model))
    assert len(found) >= 4
    settings = model()
    for path, group in found:
        assert group.model_config.get("frozen") is True, group.__name__
        part = Leaf(model, path[-1], path[:-1]).value_in(settings)
        assert isinstance(part, group)
        first = next(iter(group.model_fields))
        with pytest.raises(ValidationError, match="frozen"):
            setattr(part, first, getattr(part, first))


@pytest.mark.parametrize(
    "leaf",
    [leaf for model in MODELS for leaf in leaves(model)],
    ids=lambda leaf: leaf.variable,
)
def test_each_variable_sets_the_field_its_group_keeps(
    leaf: Leaf, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = next(model for model in MODELS if leaf.variable in FLAT_NAMES[model])
    before = leaf.value_in(model())
    text, expected = _another_value(leaf.field, before)
    monkeypatch.setenv(leaf.variable, text)
    after = leaf.value_in(model())
    if isinstance(after, SecretStr):
        after = after.get_secret_value()
    assert after == expected != before


def test_a_flat_keyword_in_code_is_refused_not_ignored() -> None:
    """Code that still passes ``smtp_host=`` would otherwise run without its SMTP server."""
    with pytest.raises(ValidationError, match="smtp_host"):
        DeliverySettings(smtp_host="mail.example.org")  # type: ignore[call-arg]


def test_a_bad_value_in_a_group_names_its_variable() -> None:
    env = {"NURTURE_DELIVERY_SMTP_PORT": "0", "NURTURE_DELIVERY_RETRY_BASE_S": "-1"}
    result = CliRunner().invoke(app, ["config", "--check"], env=env)
    assert result.exit_code == 2
    assert "invalid setting NURTURE_DELIVERY_SMTP_PORT" in result.stderr
    assert "invalid setting NURTURE_DELIVERY_RETRY_BASE_S" in result.stderr
    result = CliRunner().invoke(app, ["deliver", "--channel", "email"], env=env)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    for variable in env:  # every group's problems at once, as a flat model gave them
        assert f"invalid setting {variable}" in result.stderr


def _another_value(field: FieldInfo, current: Any) -> tuple[str, Any]:
    """A valid value of the field's type other than ``current``: (variable text, parsed)."""
    annotation = field.annotation
    if get_origin(annotation) in (Union, types.UnionType):  # X | None
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Literal:
        choice = next(value for value in get_args(annotation) if value != current)
        return str(choice), choice
    if annotation is bool:
        return ("false", False) if current else ("true", True)
    if annotation in (int, float):
        bounds: dict[str, float] = {
            key: bound
            for m in field.metadata
            for key in ("ge", "gt", "le")
            if (bound := getattr(m, key, None)) is not None
        }
        value = (current or bounds.get("ge") or bounds.get("gt") or 1) + 1
        value = min(value, bounds.get("le", value))
        value = value if value != current else value - 2
        return str(value), annotation(value)
    if annotation is Path:
        return "/srv/nurture/elsewhere", Path("/srv/nurture/elsewhere")
    if annotation is SecretStr:
        return "a-long-test-key-0123456789abcdef", "a-long-test-key-0123456789abcdef"
    if get_origin(annotation) is dict:
        value = {"crm": "https://crm.example/hooks/nurture"}
        return json.dumps(value), value
    return "test-value-x", "test-value-x"


def test_flags_override_one_setting_of_a_group_and_keep_the_rest_of_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`nurture worker --store memory://` must not drop NURTURE_WORKER_DATA_DIR (a group
    given as a dict in code would not read the environment)."""
    monkeypatch.setenv("NURTURE_WORKER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NURTURE_WORKER_STANDBY_REPLICAS", "0")
    settings = WorkerSettings.given(
        store={"url": "memory://"}, clock={"source": None}, web_port=None
    )
    assert settings.store.url == "memory://"
    assert (settings.store.data_dir, settings.store.standby_replicas) == (tmp_path, 0)
    assert settings.clock.source == "wall" and settings.web_port == 6066


@pytest.mark.parametrize(
    "leaf",
    [
        leaf
        for model in MODELS
        for leaf in leaves(model)
        if isinstance(leaf.field.validation_alias, str)
    ],
    ids=lambda leaf: leaf.variable,
)
def test_a_field_with_a_variable_of_its_own_reads_no_other(
    leaf: Leaf, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NURTURE_WORKER_STORE`` sets ``store.url``; ``NURTURE_WORKER_URL`` (the group's prefix
    and the field's name) is no variable and must change nothing."""
    model = next(model for model in MODELS if leaf.variable in FLAT_NAMES[model])
    before = leaf.value_in(model())
    text, _ = _another_value(leaf.field, before)
    prefix = str(leaf.owner.model_config.get("env_prefix", ""))
    undocumented = f"{prefix}{leaf.name}".upper()
    assert undocumented not in FLAT_NAMES[model]
    monkeypatch.setenv(undocumented, text)
    assert leaf.value_in(model()) == before


def test_flags_and_a_bad_environment_report_every_problem_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NURTURE_WORKER_STANDBY_REPLICAS", "-1")
    monkeypatch.setenv("NURTURE_WORKER_BATCH_SIZE", "0")
    monkeypatch.setenv("NURTURE_WORKER_WEB_PORT", "0")
    with pytest.raises(ValidationError) as caught:
        WorkerSettings.given(store={"data_dir": tmp_path})
    where = {error["loc"] for error in caught.value.errors()}
    assert where == {("store", "standby_replicas"), ("kafka", "batch_size"), ("web_port",)}
