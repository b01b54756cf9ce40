"""Schema Registry mode against a real registry: a local Apicurio Registry on free ports (one
for this module, stopped at its end), each test under its own topic prefix so its
TopicNameStrategy subjects are its own (the RecordNameStrategy ones of candidate.profile are
shared: registering them again changes nothing).

``registry`` tests: they need Java 21+ and the release in the cache (tests/test_registry_local.py).
"""

from __future__ import annotations

import functools
import json
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from consumers.codecs import registry_codecs as delivery_registry_codecs
from deploy.cli.main import app
from schemas import wire
from schemas.catalog import REGISTRY_DIR, default_catalog, fingerprint_of, load_catalog
from schemas.codec import Codec, codec_for
from schemas.errors import (
    SchemaRegistryRefusedError,
    SchemaRegistryUnavailableError,
    UnknownSchemaIdError,
)
from schemas.fast_writer.builders import activity_writer, fast_encoder
from schemas.kafka_seam import clients
from schemas.schema_registry import framing
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.codec import ConfluentCodec, confluent_codec
from schemas.schema_registry.register import register_catalog
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.schema_registry.subjects import registry_subject, registry_subjects, schema_text
from schemas.settings import KafkaSettings
from schemas.subject_codec import ActivityCodec
from schemas.topics import ACTION, ACTIVITY, ACTIVITY_DLQ, ENGAGEMENT, PROFILE
from streams.bench.loadgen import LoadSpec, encoded_events, publish
from streams.scoring.config import load_model
from streams.worker.dlq import HEADER_ERROR_CLASS, HEADER_TOPIC
from streams.worker.wire import registry_codecs as worker_registry_codecs
from tests import registry_support
from tests.kafka_helpers import read_all
from tests.registry_support import Record, local_registry
from tests.replay_support import profile as consenting_profile
from tests.test_schema_registry_units import RECORDS
from tests.worker_support import differences

pytestmark = pytest.mark.registry


registry_url = registry_support.registry_url


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
    with local_registry(tmp_path / "sr") as url:
        settings = SchemaRegistrySettings(url=url, timeout_s=2)
        with SchemaRegistryClient(settings) as client:
            register_catalog(client, default_catalog(), topic_prefix=prefix)
        writer = confluent_codec(settings, topic_prefix=prefix)
        record = RECORDS["engagement_record"]
        data = writer.encoder("candidate.engagement", "engagement_record").encode(record)
        reader = confluent_codec(settings, topic_prefix=prefix)
        assert reader.decode(data).record == record
    assert reader.decode(data).record == record  # cached: no registry needed
    new_id = framing.header(framing.MAX_SCHEMA_ID - 1) + data[framing.HEADER_SIZE :]
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match=url):
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
    with local_registry(tmp_path / "sr") as url:
        settings = SchemaRegistrySettings(url=url, timeout_s=2)
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


# --- the CLI's readers and writers on a real broker -------------------------------------------


@pytest.fixture
def registered(kafka: KafkaSettings, registry_url: str) -> ConfluentCodec:
    return registry_support.registered_codec(registry_url, kafka)


def _nurture(kafka: KafkaSettings, url: str, *args: str, stdin: str | None = None) -> Result:
    """``nurture <args>`` in Schema Registry mode at ``url``; its stdout is ``result.stdout``."""
    argv = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix, *args]
    env = {"NURTURE_SCHEMA_REGISTRY_URL": url}
    return CliRunner().invoke(app, argv, env=env, input=stdin, catch_exceptions=False)


def test_export_reads_both_framings_import_writes_confluent_and_dlq_show_decodes(
    kafka: KafkaSettings, registered: ConfluentCodec, registry_url: str
) -> None:
    first, second = ({**RECORDS["activity_event"], "event_id": f"evt-{n}"} for n in (1, 2))
    key = first["candidate_id"].encode()
    confluent = registered.encoder(ACTIVITY, "activity_event").encode
    publish(
        kafka,
        kafka.topic(ACTIVITY),
        [(key, confluent(first)), (key, codec_for("activity_event").encode(second))],
    )
    worker_letter = [(HEADER_TOPIC, kafka.topic(ACTIVITY).encode()), (HEADER_ERROR_CLASS, b"E")]
    producer = clients.producer(kafka, acks="all")
    producer.send(kafka.topic(ACTIVITY_DLQ), key=key, value=confluent(first), headers=worker_letter)
    producer.flush()
    producer.close()

    exported = _nurture(kafka, registry_url, "topics", "export", ACTIVITY)
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(x["framing"], x["value"]["event_id"]) for x in lines] == [
        ("confluent", "evt-1"),
        ("single-object", "evt-2"),
    ]
    imported = _nurture(kafka, registry_url, "topics", "import", ACTIVITY, stdin=exported.stdout)
    assert imported.exit_code == 0, imported.output
    copies = read_all(kafka, kafka.topic(ACTIVITY))[2:]
    assert [framing.framing_of(m.value) for m in copies] == ["confluent", "confluent"]
    assert [registered.decode_as("activity_event", m.value) for m in copies] == [first, second]

    # A dead letter (no subject of its own) goes back as its origin topic's writers frame it.
    letters = _nurture(kafka, registry_url, "topics", "export", ACTIVITY_DLQ)
    again = _nurture(kafka, registry_url, "topics", "import", ACTIVITY_DLQ, stdin=letters.stdout)
    assert again.exit_code == 0, again.output
    letter, copy = read_all(kafka, kafka.topic(ACTIVITY_DLQ))
    assert (copy.key, copy.value, copy.headers) == (letter.key, letter.value, letter.headers)

    letter_id = f"{kafka.topic(ACTIVITY_DLQ)}:{letter.partition}:{letter.offset}"
    shown = _nurture(kafka, registry_url, "dlq", "show", letter_id)
    assert shown.exit_code == 0, shown.output
    value = json.loads(shown.stdout)
    assert value["framing"] == "confluent" and value["origin_topic"] == kafka.topic(ACTIVITY)
    assert value["value"]["subject"] == "activity_event"
    assert value["value"]["record"]["event_id"] == "evt-1"


def test_erasure_verify_finds_a_candidate_in_confluent_framed_profiles(
    kafka: KafkaSettings, registered: ConfluentCodec, registry_url: str, tmp_path: Path
) -> None:
    profile = RECORDS["candidate_profile"]  # its contact in the clear (a v1-style record)
    cid = profile["candidate_id"]
    encoded = registered.encoder(PROFILE, "candidate_profile").encode(profile)
    publish(kafka, kafka.topic(PROFILE), [(cid.encode(), encoded)])
    args = ("erasure", "verify", cid, "--json", "--delivery-dir", str(tmp_path), "--timeout", "20")
    result = _nurture(kafka, registry_url, *args)
    assert result.exit_code == 1, result.output
    readable = {
        (f["place"], f["what"])
        for f in json.loads(result.stdout)["findings"]
        if f["severity"] == "readable"
    }
    assert (kafka.topic(PROFILE), "contact in the clear (profile written before v2)") in readable


def test_replay_shadow_and_diff_read_confluent_framed_records(
    kafka: KafkaSettings, registered: ConfluentCodec, registry_url: str, tmp_path: Path
) -> None:
    """Input in both framings: the shadow run scores it all (as the worker's pure functions
    do); with its Confluent-framed outputs copied to the live topics, the diff reads both
    sides through the registry and finds nothing."""
    events = encoded_events(LoadSpec(events=24, candidates=3, run=uuid.uuid4().hex[:6]))
    activity_id = registered.schema_id(ACTIVITY, "activity_event")
    to_confluent = framing.header(activity_id)
    mixed = [
        (k, to_confluent + v[wire.HEADER_SIZE :] if i % 2 else v) for i, (k, v) in enumerate(events)
    ]
    cids = sorted({k.decode() for k, _ in events})
    profiles = registered.encoder(PROFILE, "candidate_profile").encode
    publish(
        kafka,
        kafka.topic(PROFILE),
        [(c.encode(), profiles(consenting_profile(c, email_consent=True))) for c in cids],
    )
    publish(kafka, kafka.topic(ACTIVITY), mixed)

    summaries = ("--processes", "1", "--summary-dir", str(tmp_path))
    shadow = _nurture(kafka, registry_url, "replay", "shadow", "--name", "sr", *summaries)
    assert shadow.exit_code == 0, shadow.output
    outputs = {t: read_all(kafka, kafka.topic(f"{t}.shadow-sr")) for t in (ENGAGEMENT, ACTION)}
    assert {framing.framing_of(m.value) for m in outputs[ENGAGEMENT]} == {"confluent"}
    engagement: dict[str, Record | None] = {
        m.key.decode(): registered.decode_as("engagement_record", m.value)
        for m in outputs[ENGAGEMENT]
    }
    decode = functools.partial(registered.decode_as, "activity_event")
    problems = differences(registry_support.reference(load_model(), kafka, decode), engagement)
    assert not problems, "\n".join(problems)

    for topic, records in outputs.items():
        publish(kafka, kafka.topic(topic), [(m.key, m.value) for m in records])
    diff = _nurture(kafka, registry_url, "replay", "diff", "--name", "sr", "--json", *summaries)
    assert diff.exit_code == 0, diff.output
    report = json.loads(diff.stdout)
    assert report["empty"] and report["candidates"] == len(cids) and report["actions"], report
