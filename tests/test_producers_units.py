"""Pure parts of the SDK, without a broker: partitioning, encoding, settings, line parsing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from producers import ProducerSettings
from producers.producer import NurtureProducer
from producers.publish import parse_line
from producers.records import RecordEncoder
from schemas.codec import decode_as
from schemas.errors import ConfigError, ValidationError
from schemas.kafka_seam.partitioner import KafkaPythonPartitioner
from schemas.models import parse_event
from schemas.settings import KafkaSettings
from tests.test_producers_sdk import page_view

NOW = datetime(2025, 3, 1, 9, 31, tzinfo=UTC)


class _Cluster:
    """The two methods of kafka-python's ClusterMetadata the partitioners use."""

    def __init__(self, partitions: int) -> None:
        self._partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self._partitions)

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(self._partitions)


@given(keys=st.lists(st.binary(min_size=1, max_size=40), min_size=1), partitions=st.integers(1, 64))
def test_memoized_partitioner_agrees_with_kafka_python(keys: list[bytes], partitions: int) -> None:
    cluster, memo, default = _Cluster(partitions), KafkaPythonPartitioner(), DefaultPartitioner()
    for key in keys + keys:  # the second round comes from the memo
        expected = default.partition("t", key, key, None, None, cluster)
        assert memo.partition("t", key, key, None, None, cluster) == expected


def test_encoder_fills_ids_and_times_without_touching_the_input() -> None:
    event = page_view()
    del event["event_id"]
    original = dict(event)
    encoded = RecordEncoder(now=lambda: NOW).event(event)
    decoded = decode_as("activity_event", encoded.value)

    assert event == original
    assert uuid.UUID(decoded["event_id"]).version == 4
    assert encoded.record_id == decoded["event_id"]
    assert decoded["received_at"] == NOW
    assert decoded["occurred_at"] == datetime(2025, 3, 1, 9, 30, 12, 345678, tzinfo=UTC)
    assert encoded.key == event["candidate_id"].encode()


def test_codec_and_model_validation_write_the_same_bytes() -> None:
    event: dict[str, Any] = {
        **page_view(),
        "type": "career_event_registered",
        "payload": {"career_event_id": "ce-1", "starts_at": "2025-04-01T18:00:00+02:00"},
    }
    fast = RecordEncoder(dict_validation="codec", now=lambda: NOW).event(event)
    full = RecordEncoder(dict_validation="model", now=lambda: NOW).event(event)
    model = RecordEncoder(now=lambda: NOW).event(parse_event(event))
    assert fast.value == full.value == model.value
    starts = decode_as("activity_event", fast.value)["payload"]["starts_at"]
    assert starts == datetime(2025, 4, 1, 16, 0, tzinfo=UTC)


def test_model_validation_catches_what_avro_cannot() -> None:
    event = page_view()
    event["payload"]["url"] = "not a url"
    RecordEncoder(dict_validation="codec").event(event)  # a string is a string to Avro
    with pytest.raises(ValidationError) as caught:
        RecordEncoder(dict_validation="model").event(event)
    assert caught.value.field == "payload.url"


def test_settings_refuse_inconsistent_timeouts() -> None:
    with pytest.raises(ValueError, match="delivery_timeout_s"):
        ProducerSettings(delivery_timeout_s=1, request_timeout_ms=5000)


def test_settings_map_onto_kafka_python() -> None:
    config = ProducerSettings(linger_ms=7, compression="none").kafka_python_config()
    assert config["acks"] == "all"
    assert config["enable_idempotence"] is True
    assert config["linger_ms"] == 7
    assert config["compression_type"] is None
    assert ProducerSettings().compression_type() in ("lz4", "zstd", "snappy", "gzip")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_PRODUCER_LINGER_MS", "11")
    monkeypatch.setenv("NURTURE_PRODUCER_DICT_VALIDATION", "model")
    settings = ProducerSettings()
    assert (settings.linger_ms, settings.dict_validation) == (11, "model")


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("NURTURE_SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_S", "-1", "greater than or equal to 0"),
        ("NURTURE_SCHEMA_REGISTRY_TIMEOUT_S", "soon", "valid number"),
    ],
)
def test_a_bad_schema_registry_setting_is_a_config_error_naming_it_even_with_the_mode_off(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    """Not pydantic's error: the SDK's own, before it connects (no broker needed)."""
    monkeypatch.delenv("NURTURE_SCHEMA_REGISTRY_URL", raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        NurtureProducer(KafkaSettings(bootstrap_servers="127.0.0.1:1"), ProducerSettings())
    assert str(raised.value).startswith(f"invalid setting {variable}: ")
    assert reason in str(raised.value) and value not in str(raised.value)


@pytest.mark.parametrize(
    ("line", "subject"),
    [
        (b'{"event_id": "e1", "type": "page_viewed"}', "activity_event"),
        (b'{"subject": "erasure_request", "record": {"candidate_id": "c"}}', "erasure_request"),
        (b'{"subject": "x", "record": 1, "other": 2}', "activity_event"),  # not an envelope
    ],
)
def test_parse_line_tells_envelopes_from_bare_records(line: bytes, subject: str) -> None:
    assert parse_line(line, "activity_event")[0] == subject


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b"[1, 2]", "(line)"),
        (b"{oops", "(line)"),
        (b'{"subject": "nurture_action", "record": {}}', "subject"),
    ],
)
def test_parse_line_rejects_what_it_cannot_route(line: bytes, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_line(line, "activity_event")
    assert caught.value.field == field
