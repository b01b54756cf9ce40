"""Schema Registry mode against a real registry: a local Apicurio Registry on free ports (one
for this module, stopped at its end), each test under its own topic prefix so its
TopicNameStrategy subjects are its own (the RecordNameStrategy ones of candidate.profile are
shared: registering them again changes nothing).

``registry`` tests: they need Java 21+ and the release in the cache (tests/test_registry_local.py).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from consumers.codecs import registry_codecs as delivery_registry_codecs
from deploy.cli.main import app
from deploy.registry.process import LocalRegistry
from deploy.registry.settings import RegistrySettings
from schemas import wire
from schemas.catalog import REGISTRY_DIR, default_catalog, fingerprint_of, load_catalog
from schemas.codec import Codec, codec_for
from schemas.errors import (
    SchemaRegistryRefusedError,
    SchemaRegistryUnavailableError,
    UnknownSchemaIdError,
)
from schemas.fast_writer.builders import activity_writer, fast_encoder
from schemas.schema_registry import framing
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.codec import confluent_codec
from schemas.schema_registry.register import register_catalog
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.schema_registry.subjects import registry_subject, registry_subjects, schema_text
from schemas.subject_codec import ActivityCodec
from streams.worker.wire import registry_codecs as worker_registry_codecs
from tests.test_schema_registry_units import RECORDS
from tests.test_secure_broker_support import free_port_pair

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = RegistrySettings(
        port=free_port_pair(), data_dir=tmp_path_factory.mktemp("schema-registry")
    )
    registry = LocalRegistry(settings)
    try:
        status, _ = registry.start()
        yield status.url
    finally:
        registry.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


def _settings(url: str) -> SchemaRegistrySettings:
    return SchemaRegistrySettings(url=url, timeout_s=10)


def _register(url: str, prefix: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["--topic-prefix", prefix, "schemas", "register", "--url", url, *args],
        catch_exceptions=False,
    )
    return result.exit_code, " ".join(result.output.split())


def test_register_all_then_a_rerun_changes_nothing(registry_url: str, prefix: str) -> None:
    code, output = _register(registry_url, prefix, "--dry-run")
    assert code == 0, output
    assert "would register" in output and "would change" in output

    code, output = _register(registry_url, prefix)
    assert code == 0, output
    assert f"{prefix}candidate.activity-value: activity_event v2 registered" in output

    code, output = _register(registry_url, prefix)
    assert code == 0, output
    assert "registered" not in output and " set " not in output
    assert "nothing to change: 9 subjects" in output

    with SchemaRegistryClient(_settings(registry_url)) as client:
        for target in registry_subjects(topic_prefix=prefix):
            subject = default_catalog().subject(target.subject)
            ids = [
                client.lookup(target.registry_subject, schema_text(v.schema))
                for v in subject.versions
            ]
            assert None not in ids, target
        assert client.compatibility(f"{prefix}candidate.activity-value") == "BACKWARD_TRANSITIVE"
        assert client.compatibility("candidate_nurture.CandidateProfile") == "FULL_TRANSITIVE"
    versions = httpx.get(f"{registry_url}/subjects/{prefix}candidate.activity-value/versions")
    assert versions.json() == [1, 2]


def _incompatible_catalog(tmp_path: Path) -> Path:
    """The shipped registry with an engagement_record v2 that changes a field's type."""
    directory = tmp_path / "registry"
    shutil.copytree(REGISTRY_DIR, directory)
    schema = json.loads((directory / "engagement_record" / "v1.avsc").read_text())
    score = next(f for f in schema["fields"] if f["name"] == "score")
    score["type"] = "string"
    (directory / "engagement_record" / "v2.avsc").write_text(json.dumps(schema))
    index = json.loads((directory / "index.json").read_text())
    index["subjects"]["engagement_record"]["fingerprints"]["2"] = fingerprint_of(schema).hex()
    (directory / "index.json").write_text(json.dumps(index))
    return directory


def test_an_incompatible_version_is_refused_by_the_registry_naming_the_subject(
    registry_url: str, prefix: str, tmp_path: Path
) -> None:
    catalog = load_catalog(_incompatible_catalog(tmp_path))
    with SchemaRegistryClient(_settings(registry_url)) as client:
        dry = register_catalog(client, catalog, topic_prefix=prefix, dry_run=True)
        refused = [step for step in dry if step.outcome == "refused"]
        assert [str(step) for step in refused] == []  # nothing registered yet to refuse it
        with pytest.raises(SchemaRegistryRefusedError) as raised:
            register_catalog(client, catalog, topic_prefix=prefix)
        assert raised.value.incompatible
        assert raised.value.subject == f"{prefix}candidate.engagement-value"
        assert "engagement_record v2 is incompatible" in str(raised.value)
        # now v1 is there: a dry run says the registry would refuse v2
        dry = register_catalog(client, catalog, topic_prefix=prefix, dry_run=True)
        assert [step.what for step in dry if step.outcome == "refused"] == ["engagement_record v2"]


def test_the_command_refuses_what_the_registry_refuses_and_exits_1(
    registry_url: str, prefix: str
) -> None:
    """Someone registered an engagement schema ours cannot follow (FULL_TRANSITIVE)."""
    subject = f"{prefix}candidate.engagement-value"
    theirs = {"type": "record", "name": "EngagementRecord", "namespace": "candidate_nurture"}
    theirs["fields"] = [{"name": "score", "type": "string"}]  # type: ignore[assignment]
    with SchemaRegistryClient(_settings(registry_url)) as client:
        client.set_compatibility(subject, "FULL_TRANSITIVE")
        client.register(subject, json.dumps(theirs))
    code, output = _register(registry_url, prefix, "--dry-run")
    assert code == 1, output
    assert f"{subject}: engagement_record v1 refused" in output
    code, output = _register(registry_url, prefix)
    assert code == 1, output
    assert "Traceback" not in output
    assert f"schema registry refused {subject}: engagement_record v1 is incompatible" in output


def test_both_framings_decode_to_the_same_record_and_share_the_body(
    registry_url: str, prefix: str
) -> None:
    with SchemaRegistryClient(_settings(registry_url)) as client:
        register_catalog(client, default_catalog(), topic_prefix=prefix)
    writer = confluent_codec(_settings(registry_url), topic_prefix=prefix)
    reader = confluent_codec(_settings(registry_url), topic_prefix=prefix)  # a fresh cache
    for target in registry_subjects(topic_prefix=prefix):
        record = RECORDS[target.subject]
        encoder = writer.encoder(target.topic, target.subject)
        confluent = encoder.encode(record)
        single_object = codec_for(target.subject).encode(record)
        schema_id = writer.schema_id(target.topic, target.subject)
        assert confluent == framing.header(schema_id) + single_object[wire.HEADER_SIZE :]
        assert reader.decode(confluent) == reader.decode(single_object), target
        assert reader.decode(confluent).record == record
        assert reader.decode_as(target.subject, confluent) == record
        fast = (
            activity_writer(encoder).encode(record)
            if isinstance(encoder, ActivityCodec)
            else fast_encoder(encoder)(record)
        )
        assert fast == confluent  # the compiled writer, with the same 5-byte header
    erasure = writer.encoder("candidate.profile", "erasure_request")
    profile = reader.decode(erasure.encode(RECORDS["erasure_request"]))
    assert profile.subject == "erasure_request"  # candidate.profile tells its two apart


def test_ids_are_cached_and_an_unknown_id_is_a_clear_error(registry_url: str, prefix: str) -> None:
    with SchemaRegistryClient(_settings(registry_url)) as client:
        register_catalog(client, default_catalog(), topic_prefix=prefix)
    writer = confluent_codec(_settings(registry_url), topic_prefix=prefix)
    data = writer.encoder("nurture.delivery", "delivery_outcome").encode(
        RECORDS["delivery_outcome"]
    )
    reader = confluent_codec(_settings(registry_url), topic_prefix=prefix)
    for _ in range(5):
        assert reader.decode(data).subject == "delivery_outcome"
    assert reader.resolver.fetches == 1

    unknown = framing.header(framing.MAX_SCHEMA_ID) + data[framing.HEADER_SIZE :]
    for _ in range(3):
        with pytest.raises(UnknownSchemaIdError) as raised:
            reader.decode(unknown)
    assert raised.value.schema_id == framing.MAX_SCHEMA_ID
    assert "has no such id" in str(raised.value) and registry_url in str(raised.value)
    assert reader.resolver.fetches == 2  # remembered as unknown for a while


def test_a_registry_that_goes_down_keeps_cached_ids_and_fails_new_ones_in_bounded_time(
    tmp_path: Path, prefix: str
) -> None:
    """A registry of its own, stopped halfway: what a reader has resolved keeps decoding, a
    new id is a clear error within the timeout, and the next one fails at once."""
    registry = LocalRegistry(RegistrySettings(port=free_port_pair(), data_dir=tmp_path / "sr"))
    try:
        status, _ = registry.start()
        settings = SchemaRegistrySettings(url=status.url, timeout_s=2)
        with SchemaRegistryClient(settings) as client:
            register_catalog(client, default_catalog(), topic_prefix=prefix)
        writer = confluent_codec(settings, topic_prefix=prefix)
        record = RECORDS["engagement_record"]
        data = writer.encoder("candidate.engagement", "engagement_record").encode(record)
        reader = confluent_codec(settings, topic_prefix=prefix)
        assert reader.decode(data).record == record
    finally:
        registry.stop()
    assert reader.decode(data).record == record  # cached: no registry needed
    new_id = framing.header(framing.MAX_SCHEMA_ID - 1) + data[framing.HEADER_SIZE :]
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match=status.url):
        reader.decode(new_id)
    assert time.monotonic() - started < settings.timeout_s * 2
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match="not asked again"):
        reader.decode(new_id)
    assert time.monotonic() - started < 0.1


def test_readers_cache_every_registered_version_at_start_and_read_old_ones_during_an_outage(
    tmp_path: Path, prefix: str
) -> None:
    """The worker and delivery look up, at start, the ids of every catalog version they read:
    records written with an *older* version, first seen while the registry is down, decode (a
    reader without that warm-up cannot: it would dead-letter an unsubscribe or an erasure)."""
    catalog = default_catalog()
    old = Codec(catalog, reader_versions={"activity_event": 1, "candidate_profile": 1})
    activity = {k: v for k, v in RECORDS["activity_event"].items() if k != "correlation_id"}
    profile = {k: v for k, v in RECORDS["candidate_profile"].items() if k != "sealed_contact"}
    registry = LocalRegistry(RegistrySettings(port=free_port_pair(), data_dir=tmp_path / "sr"))
    try:
        status, _ = registry.start()
        settings = SchemaRegistrySettings(url=status.url, timeout_s=2)
        with SchemaRegistryClient(settings) as client:
            register_catalog(client, catalog, topic_prefix=prefix)
            ids = {
                subject: client.lookup(
                    registry_subject(topic, subject, topic_prefix=prefix),
                    schema_text(catalog.subject(subject).version(1).schema),
                )
                for topic, subject in (
                    ("candidate.activity", "activity_event"),
                    ("candidate.profile", "candidate_profile"),
                )
            }
        worker = worker_registry_codecs(settings, topic_prefix=prefix)
        delivery = delivery_registry_codecs(settings, topic_prefix=prefix)
        cold = confluent_codec(settings, topic_prefix=prefix)  # looks nothing up at start
    finally:
        registry.stop()
    v1_ids = {subject: found for subject, found in ids.items() if found is not None}
    assert v1_ids.keys() == ids.keys(), ids  # v1 of both is registered
    old_activity, old_profile = (
        framing.header(v1_ids[s]) + old.encode(s, r)[wire.HEADER_SIZE :]
        for s, r in (("activity_event", activity), ("candidate_profile", profile))
    )
    assert worker.decode_activity(old_activity)["event_id"] == activity["event_id"]
    for decoded in (worker.decode_profile(old_profile), delivery.decode_profile(old_profile)):
        assert (decoded.subject, decoded.version) == ("candidate_profile", 1)
        assert decoded.record["candidate_id"] == profile["candidate_id"]
    with pytest.raises(SchemaRegistryUnavailableError):
        cold.decode(old_activity)
