"""Schema Registry mode without a registry: the Confluent header, the subject mapping, the
settings, the id cache policy (with a stand-in registry and clock), the codec chosen from the
settings (the client over HTTP: tests/test_schema_registry_client.py).

tests/test_schema_registry_mode.py runs the same codec against a real registry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from schemas import wire
from schemas.codec import codec_for, default_codec
from schemas.errors import (
    ConfigError,
    CorruptPayloadError,
    SchemaRegistryAuthError,
    SchemaRegistryUnavailableError,
    TombstoneError,
    UnknownSchemaError,
    UnknownSchemaIdError,
    WrongSubjectError,
)
from schemas.models import parse_record
from schemas.schema_registry import framing
from schemas.schema_registry.codec import (
    ConfluentCodec,
    SingleObjectCodec,
    wire_codec,
)
from schemas.schema_registry.resolver import (
    FOREIGN_VERSION,
    SchemaIdResolver,
    unavailable_window_s,
)
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.schema_registry.subjects import (
    registry_subject,
    registry_subjects,
    schema_text,
    subject_strategy,
)
from tests.test_schemas_docs import EXAMPLES

#: One record per subject, in Avro dict form (from docs/events.md).
RECORDS: dict[str, dict[str, Any]] = {}
for _subject, _example in EXAMPLES:
    RECORDS.setdefault(_subject, parse_record(_subject, _example).to_avro())


class FakeRegistry:
    """Schemas by id in memory; counts requests; can be switched off (unavailable)."""

    url = "http://registry.test/apis/ccompat/v7"

    def __init__(self, schemas: dict[int, str]) -> None:
        self.schemas = schemas
        self.requests = 0
        #: True: connections refused; an error: that error raised.
        self.down: bool | SchemaRegistryUnavailableError = False

    def schema_by_id(self, schema_id: int) -> str:
        self.requests += 1
        if isinstance(self.down, SchemaRegistryUnavailableError):
            raise self.down
        if self.down:
            raise SchemaRegistryUnavailableError(self.url, "ConnectError: connection refused")
        if schema_id not in self.schemas:
            raise UnknownSchemaIdError(schema_id, "the registry has no such id")
        return self.schemas[schema_id]

    def lookup(self, subject: str, schema: str) -> int | None:
        return next((i for i, text in self.schemas.items() if text == schema), None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _current_text(subject: str) -> str:
    return schema_text(default_codec().subject(subject).reader.schema)


def _codec(registry: FakeRegistry, clock: Clock | None = None) -> ConfluentCodec:
    codec = default_codec()
    resolver = SchemaIdResolver(
        registry,
        codec.catalog,
        unknown_id_retry_s=30,
        unavailable_retry_s=5,
        clock=clock or time.monotonic,
    )
    return ConfluentCodec(codec, registry, resolver)


# -- the frame ------------------------------------------------------------------------------


def test_the_header_is_the_magic_byte_and_the_big_endian_id() -> None:
    assert framing.header(1) == b"\x00\x00\x00\x00\x01"
    assert framing.header(0x01020304) == b"\x00\x01\x02\x03\x04"
    assert framing.read_schema_id(framing.header(258) + b"body") == 258
    with pytest.raises(ValueError, match="schema id"):
        framing.header(2**31)


def test_the_first_byte_tells_the_framings_apart() -> None:
    single_object = codec_for("engagement_record").encode(RECORDS["engagement_record"])
    assert framing.framing_of(single_object) == "single-object"
    assert framing.framing_of(framing.header(7) + b"x") == "confluent"
    assert framing.framing_of(None) == framing.framing_of(b"") == "single-object"


@pytest.mark.parametrize(
    ("data", "error"),
    [(None, TombstoneError), (b"\x00\x00\x01", CorruptPayloadError)],
)
def test_a_short_or_null_confluent_value_is_a_clear_error(
    data: bytes | None, error: type[Exception]
) -> None:
    codec = _codec(FakeRegistry({}))
    with pytest.raises(error):
        codec.decode(data)  # type: ignore[arg-type]


# -- subjects -------------------------------------------------------------------------------


def test_the_subject_mapping() -> None:
    """The table in docs/integrations.md, "Schema Registry mode"."""
    table = {
        (s.topic, s.subject): (s.registry_subject, s.strategy)
        for s in registry_subjects(topic_prefix="staging.")
    }
    topic = "TopicNameStrategy"
    assert table == {
        ("candidate.activity", "activity_event"): ("staging.candidate.activity-value", topic),
        ("candidate.profile", "candidate_profile"): (
            "candidate_nurture.CandidateProfile",
            "RecordNameStrategy",
        ),
        ("candidate.profile", "erasure_request"): (
            "candidate_nurture.ErasureRequest",
            "RecordNameStrategy",
        ),
        ("candidate.engagement", "engagement_record"): (
            "staging.candidate.engagement-value",
            topic,
        ),
        ("candidate.suppression", "candidate_suppression"): (
            "staging.candidate.suppression-value",
            topic,
        ),
        ("nurture.action", "nurture_action"): ("staging.nurture.action-value", topic),
        ("nurture.action.dlq", "nurture_action"): ("staging.nurture.action.dlq-value", topic),
        ("nurture.action.retry", "nurture_action"): ("staging.nurture.action.retry-value", topic),
        ("nurture.delivery", "delivery_outcome"): ("staging.nurture.delivery-value", topic),
    }


def test_the_table_in_the_docs_is_the_mapping() -> None:
    text = (Path(__file__).parents[1] / "docs" / "integrations.md").read_text(encoding="utf-8")
    section = text.split("### Subjects", 1)[1].split("###", 1)[0]
    rows = [
        [cell.strip(" `") for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    strategy = {"topic name": "TopicNameStrategy", "record name": "RecordNameStrategy"}
    assert [(t, s, r, strategy[k]) for t, s, r, k in rows] == [
        (m.topic, m.subject, m.registry_subject, m.strategy)
        for m in registry_subjects(topic_prefix="P")
    ]


def test_topics_without_avro_or_with_another_subject_are_refused() -> None:
    with pytest.raises(ConfigError, match="carries no Avro records"):
        subject_strategy("candidate.keys")
    with pytest.raises(ConfigError, match="not 'nurture_action'"):
        registry_subject("candidate.activity", "nurture_action")


# -- settings -------------------------------------------------------------------------------


def test_without_a_url_the_mode_is_off_and_the_codec_is_single_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NURTURE_SCHEMA_REGISTRY_URL", raising=False)
    settings = SchemaRegistrySettings()
    assert not settings.enabled
    codec = wire_codec(settings)
    assert isinstance(codec, SingleObjectCodec) and codec.framing == "single-object"
    record = RECORDS["delivery_outcome"]
    data = codec.encoder("nurture.delivery", "delivery_outcome").encode(record)
    assert data == codec_for("delivery_outcome").encode(record)
    assert codec.decode(data).record == record


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"url": "registry:8081"}, "http:// or https://"),
        ({"url": "http://"}, "with a host"),
        ({"url": "http://r", "username": "ci"}, "both USERNAME and PASSWORD"),
        (
            {"url": "http://r", "username": "ci", "password": "pw", "bearer_token": "t"},
            "not both",
        ),
    ],
)
def test_bad_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(PydanticValidationError, match=message):
        SchemaRegistrySettings(**values)  # type: ignore[arg-type]


def test_the_url_loses_its_trailing_slash_and_secrets_stay_hidden() -> None:
    settings = SchemaRegistrySettings(
        url="https://sr.example.com/apis/ccompat/v7/",
        username="ci",
        password="hunter2-secret",
    )
    assert settings.url == "https://sr.example.com/apis/ccompat/v7"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


# -- ids: resolution and cache policy --------------------------------------------------------


def test_an_id_of_a_catalog_version_decodes_as_that_version_and_is_fetched_once() -> None:
    registry = FakeRegistry({41: _current_text("engagement_record")})
    codec = _codec(registry)
    record = RECORDS["engagement_record"]
    single_object = codec_for("engagement_record").encode(record)
    confluent = framing.header(41) + single_object[wire.HEADER_SIZE :]
    for _ in range(3):
        assert codec.decode(confluent) == codec.decode(single_object)
    assert registry.requests == 1


def test_an_encoder_writes_the_same_body_after_the_id_and_seeds_the_cache() -> None:
    registry = FakeRegistry({9: _current_text("nurture_action")})
    codec = _codec(registry)
    record = RECORDS["nurture_action"]
    data = codec.encoder("nurture.action", "nurture_action").encode(record)
    single_object = codec_for("nurture_action").encode(record)
    assert data == b"\x00\x00\x00\x00\x09" + single_object[wire.HEADER_SIZE :]
    assert codec.decode_as("nurture_action", data) == record
    assert registry.requests == 0  # the encoder's look-up told the resolver what id 9 is


def test_an_encoder_of_an_unregistered_version_says_to_register() -> None:
    with pytest.raises(ConfigError, match="nurture schemas register"):
        _codec(FakeRegistry({})).encoder("candidate.activity", "activity_event")


def test_an_unknown_id_is_remembered_for_a_while_then_asked_again() -> None:
    registry, clock = FakeRegistry({}), Clock()
    codec = _codec(registry, clock)
    data = framing.header(404) + b"\x02"
    for _ in range(3):
        with pytest.raises(UnknownSchemaIdError, match="schema id 404") as raised:
            codec.decode(data)
    assert isinstance(raised.value, UnknownSchemaError)  # dead-lettered as today's unknowns
    assert registry.requests == 1
    clock.now += 31  # past unknown_id_retry_s: a schema registered since is found
    registry.schemas[404] = _current_text("candidate_suppression")
    record = RECORDS["candidate_suppression"]
    body = codec_for("candidate_suppression").encode(record)[wire.HEADER_SIZE :]
    assert codec.decode(framing.header(404) + body).record == record
    assert registry.requests == 2


def test_an_unavailable_registry_fails_fast_for_a_while_and_ids_cached_still_decode() -> None:
    text = _current_text("engagement_record")
    registry, clock = FakeRegistry({1: text, 2: text}), Clock()
    codec = _codec(registry, clock)
    body = codec_for("engagement_record").encode(RECORDS["engagement_record"])[wire.HEADER_SIZE :]
    codec.decode(framing.header(1) + body)
    registry.down = True
    with pytest.raises(SchemaRegistryUnavailableError, match="connection refused"):
        codec.decode(framing.header(2) + body)
    with pytest.raises(SchemaRegistryUnavailableError, match=r"not asked again for 5\.0 s"):
        codec.decode(framing.header(2) + body)
    assert registry.requests == 2  # the second failure did not wait for the registry
    assert codec.decode(framing.header(1) + body).subject == "engagement_record"  # cached
    registry.down = False
    clock.now += 5
    assert codec.decode(framing.header(2) + body).subject == "engagement_record"


def test_within_the_window_a_refusal_stays_a_refusal_not_retriable() -> None:
    """Refused credentials (or a wrong URL) open the window too; the look-ups it answers raise
    the same non-retriable class, so delivery's views end at once instead of waiting."""
    registry, clock = FakeRegistry({}), Clock()
    codec = _codec(registry, clock)
    body = codec_for("engagement_record").encode(RECORDS["engagement_record"])[wire.HEADER_SIZE :]
    registry.down = SchemaRegistryAuthError(registry.url, "HTTP 401: it refused the credentials")
    for _ in range(2):
        with pytest.raises(SchemaRegistryAuthError, match="refused the credentials") as raised:
            codec.decode(framing.header(2) + body)
        assert not raised.value.retriable
    assert registry.requests == 1  # the second came from the window


def test_the_fail_fast_window_doubles_per_failure_up_to_the_cap() -> None:
    assert [unavailable_window_s(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert unavailable_window_s(10_000, 5, 60) == 60  # no overflow however long the outage
    assert unavailable_window_s(3, 120, 60) == 120  # a longer first window is kept
    assert unavailable_window_s(3, 0, 60) == 0  # 0: every look-up asks, as configured


def _fail_fast_for(codec: ConfluentCodec, data: bytes) -> float | None:
    """The registry's retry_after_s of a look-up that fails (None: it decoded)."""
    try:
        codec.decode(data)
    except SchemaRegistryUnavailableError as exc:
        return exc.retry_after_s
    return None


def test_a_registry_that_stays_down_is_asked_less_and_less_often_until_it_answers() -> None:
    """5 s after the first failure, then 10, 20, 40, 60, 60 ...; an answer starts over at 5."""
    text = _current_text("engagement_record")
    registry, clock = FakeRegistry({1: text, 2: text, 3: text}), Clock()
    codec = _codec(registry, clock)
    body = codec_for("engagement_record").encode(RECORDS["engagement_record"])[wire.HEADER_SIZE :]
    registry.down = True
    for window in (5, 10, 20, 40, 60, 60):
        asked = registry.requests
        assert _fail_fast_for(codec, framing.header(1) + body) == window  # asked, failed
        clock.now += window - 0.5
        assert _fail_fast_for(codec, framing.header(1) + body) == 0.5  # not asked
        assert registry.requests == asked + 1
        clock.now += 0.5
    registry.down = False
    assert codec.decode(framing.header(1) + body).subject == "engagement_record"
    registry.down = True  # the next outage starts at the first window again
    assert _fail_fast_for(codec, framing.header(2) + body) == 5
    clock.now += 5
    registry.down = False
    registry.schemas.pop(3)  # an unknown id is an answer too: the window starts over
    with pytest.raises(UnknownSchemaIdError):
        codec.decode(framing.header(3) + body)
    registry.down = True
    assert _fail_fast_for(codec, framing.header(2) + body) == 5


def test_the_window_cap_is_a_setting_of_60_s_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NURTURE_SCHEMA_REGISTRY_UNAVAILABLE_RETRY_MAX_S", raising=False)
    assert SchemaRegistrySettings(url="http://r").unavailable_retry_max_s == 60.0
    monkeypatch.setenv("NURTURE_SCHEMA_REGISTRY_UNAVAILABLE_RETRY_MAX_S", "12.5")
    settings = SchemaRegistrySettings(url="http://r")
    assert (settings.unavailable_retry_s, settings.unavailable_retry_max_s) == (5.0, 12.5)


def test_a_schema_of_no_subject_of_ours_is_an_unknown_id() -> None:
    foreign = '{"type":"record","name":"Order","namespace":"shop","fields":[]}'
    codec = _codec(FakeRegistry({5: foreign, 6: "not json"}))
    with pytest.raises(UnknownSchemaIdError, match=r"record shop\.Order is none of"):
        codec.decode(framing.header(5))
    with pytest.raises(UnknownSchemaIdError, match="not a valid Avro schema"):
        codec.decode(framing.header(6))


def test_a_newer_schema_of_a_subject_is_resolved_to_the_reader_version() -> None:
    """Another producer registered engagement_record with one more field (with a default):
    its records decode as our current version, writer version 0 (not in the catalog)."""
    schema = dict(default_codec().subject("engagement_record").reader.schema)
    schema["fields"] = [*schema["fields"], {"name": "region", "type": "string", "default": ""}]
    codec = _codec(FakeRegistry({77: schema_text(schema)}))
    record = RECORDS["engagement_record"]
    body = codec_for("engagement_record").encode(record)[wire.HEADER_SIZE :]
    body += b"\x04eu"  # a record's fields are written in order: the new last one, "eu"
    decoded = codec.decode(framing.header(77) + body)
    assert (decoded.subject, decoded.version) == ("engagement_record", FOREIGN_VERSION)
    assert decoded.record == record


def test_decode_as_refuses_a_confluent_record_of_another_subject() -> None:
    registry = FakeRegistry({3: _current_text("erasure_request")})
    codec = _codec(registry)
    body = codec_for("erasure_request").encode(RECORDS["erasure_request"])[wire.HEADER_SIZE :]
    with pytest.raises(WrongSubjectError, match="expected a candidate_profile record"):
        codec.decode_as("candidate_profile", framing.header(3) + body)
    assert codec.decode(framing.header(3) + body).subject == "erasure_request"


# -- a registry that does not answer ----------------------------------------------------------
