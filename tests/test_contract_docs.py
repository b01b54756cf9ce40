"""docs/asyncapi.yaml and docs/openapi.json: fresh, valid, and saying what the code does (issue #16,
item 8). Regenerate both with `make docs`.

The AsyncAPI document is validated against the official AsyncAPI 3.0.0 JSON Schema, vendored in
tests/data (see tests/data/README.md), entirely offline: every ``$ref`` resolves inside that file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry
from referencing import Registry
from referencing.jsonschema import DRAFT7

from deploy.contract.asyncapi import asyncapi_document, render_asyncapi
from deploy.contract.openapi import render_openapi
from producers.gateway.app import create_app
from schemas.catalog import default_catalog
from schemas.privacy.settings import load_privacy_settings
from schemas.settings import KafkaSettings
from schemas.topics import DAY_MS, TOPICS
from tests.test_gateway_support import gateway_settings

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI_FILE = ROOT / "docs" / "asyncapi.yaml"
OPENAPI_FILE = ROOT / "docs" / "openapi.json"
ASYNCAPI_SCHEMA = Path(__file__).parent / "data" / "asyncapi-3.0.0.json"
STALE = "is stale: run `make docs` and commit the result"


@pytest.fixture(scope="module")
def asyncapi_validator() -> Draft7Validator:
    schema = json.loads(ASYNCAPI_SCHEMA.read_text(encoding="utf-8"))
    resources = [(schema["$id"], DRAFT7.create_resource(schema))]
    resources += [
        (uri, DRAFT7.create_resource(part)) for uri, part in schema["definitions"].items()
    ]
    # An explicit registry, whose default retrieval fails: nothing is fetched from the network.
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


def _problems(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
        for error in validator.iter_errors(document)
    ]


def test_asyncapi_yaml_is_fresh() -> None:
    assert ASYNCAPI_FILE.read_text(encoding="utf-8") == render_asyncapi(), (
        f"{ASYNCAPI_FILE} {STALE}"
    )


def test_openapi_json_is_fresh() -> None:
    assert OPENAPI_FILE.read_text(encoding="utf-8") == render_openapi(), f"{OPENAPI_FILE} {STALE}"


def test_asyncapi_yaml_is_valid_asyncapi_3(asyncapi_validator: Draft7Validator) -> None:
    document = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert document["asyncapi"] == "3.0.0"
    assert _problems(asyncapi_validator, document) == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("channels/candidate.activity/address", 7),
        ("channels/candidate.activity/bindings/kafka/topicConfiguration/retention.ms", "400 days"),
        ("components/schemas/activity_event.v1/schema", {"type": "record"}),
        ("operations/candidate.activity.write/action", "publish"),
    ],
)
def test_the_validator_finds_what_is_wrong(
    asyncapi_validator: Draft7Validator, where: str, value: Any
) -> None:
    """The schema check is no formality: a wrong type in a binding or an Avro schema fails it."""
    document = copy.deepcopy(asyncapi_document())
    *path, last = where.split("/")
    parent = document
    for step in path:
        parent = parent[step]
    parent[last] = value
    assert _problems(asyncapi_validator, document)


def test_every_topic_is_a_channel_with_its_declaration() -> None:
    channels = asyncapi_document()["channels"]
    assert list(channels) == [spec.name for spec in TOPICS]
    for spec in TOPICS:
        channel = channels[spec.name]
        configuration = channel["bindings"]["kafka"]["topicConfiguration"]
        assert configuration["cleanup.policy"] == spec.cleanup_policy.split(",")
        if spec.retention_days is None:
            assert "retention.ms" not in configuration
        else:
            assert configuration["retention.ms"] == spec.retention_days * DAY_MS
        assert channel["x-written-by"] == spec.written_by
        assert channel["x-read-by"] == spec.read_by
        for message in channel["messages"].values():
            assert spec.key in message["bindings"]["kafka"]["key"]["description"]


def test_every_schema_version_is_a_message_with_its_fingerprint() -> None:
    document = asyncapi_document()
    catalog = default_catalog()
    for spec in (spec for spec in TOPICS if spec.subjects):
        messages = document["channels"][spec.name]["messages"]
        expected = {
            f"{v.subject}.v{v.version}": v
            for name in spec.subjects
            for v in catalog.subject(name).versions
        }
        assert set(messages) == set(expected)
        for message_id, version in expected.items():
            assert messages[message_id]["x-fingerprint"] == version.fingerprint.hex()
            schema = document["components"]["schemas"][message_id]
            assert schema["schema"] == version.schema


def test_the_retention_environment_does_not_change_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NURTURE_RETENTION_CANDIDATE_ACTIVITY", "7")
    assert render_asyncapi() == ASYNCAPI_FILE.read_text(encoding="utf-8")


def test_the_committed_openapi_is_what_a_configured_gateway_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/openapi.json is built without keys or Kafka; a gateway made by create_app (with its
    middleware, state and handlers) serves the same document."""
    monkeypatch.setenv("NURTURE_PRIVACY_KEK_FILE", str(tmp_path / "kek"))
    load_privacy_settings.cache_clear()
    try:
        app = create_app(
            gateway_settings(tracking_secret="tracking-secret-of-these-tests"),
            KafkaSettings(),
            CollectorRegistry(),
        )
        served = app.openapi()
    finally:
        load_privacy_settings.cache_clear()
    assert json.loads(OPENAPI_FILE.read_text(encoding="utf-8")) == served


def test_integrations_md_names_the_current_activity_schema_and_its_fingerprint() -> None:
    """docs/integrations.md tells other systems which version to write and its header bytes:
    a new activity_event version must update it."""
    text = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    current = default_catalog().subject("activity_event").current
    assert f"activity_event/v{current.version}.avsc" in text
    assert current.fingerprint.hex() in text
    assert current.fingerprint.hex(" ") in text
