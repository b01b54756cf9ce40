"""The wire codec: framing, round trips, versions, interop and the typed errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest

from schemas import wire
from schemas.catalog import default_catalog
from schemas.codec import (
    SUBJECTS,
    Codec,
    Decoded,
    activity_codec,
    codec_for,
    decode,
    decode_as,
    default_codec,
    encode,
)
from schemas.errors import (
    CorruptPayloadError,
    SchemaError,
    UnknownSchemaError,
    ValidationError,
    WrongSubjectError,
)

T0 = datetime(2025, 3, 1, 9, 30, 12, 345678, tzinfo=UTC)


def page_view(**changes: Any) -> dict[str, Any]:
    record = {
        "event_id": "evt-1",
        "type": "page_viewed",
        "candidate_id": "cand-1",
        "occurred_at": T0,
        "source": "career-site",
        "received_at": T0 + timedelta(milliseconds=40),
        "correlation_id": "web-session-1",
        "payload": {
            "url": "https://careers.example.com/jobs/1",
            "page_type": "job",
            "job_id": "1",
            "content_id": None,
            "referrer": None,
        },
    }
    record.update(changes)
    return record


def profile(**changes: Any) -> dict[str, Any]:
    record = {
        "candidate_id": "cand-1",
        "contact": {
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": None,
            "phone": None,
        },
        "locale": "en-GB",
        "time_zone": "Europe/London",
        "interests": ["data"],
        "job_families": [],
        "locations": ["London"],
        "consents": {
            "email": {"granted": True, "granted_at": T0, "expires_at": None, "withdrawn_at": None}
        },
        "updated_at": T0,
        "source": "crm",
    }
    record.update(changes)
    return record


def erasure() -> dict[str, Any]:
    return {
        "request_id": "erase-1",
        "candidate_id": "cand-1",
        "requested_at": T0,
        "source": "privacy-portal",
        "reason": None,
    }


# --- framing and round trips ----------------------------------------------------------------


def test_bytes_are_single_object_encoded_with_the_current_fingerprint() -> None:
    data = encode("activity_event", page_view())
    current = default_catalog().subject("activity_event").current
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == current.fingerprint
    assert wire.read_fingerprint(data) == current.fingerprint


def test_an_activity_event_round_trips() -> None:
    record = page_view()
    assert decode(encode("activity_event", record)) == Decoded("activity_event", 2, record)
    assert activity_codec().decode(activity_codec().encode(record)) == record


def test_decoded_datetimes_are_utc_even_when_written_with_another_offset() -> None:
    berlin = timezone(timedelta(hours=1))
    record = page_view(occurred_at=T0.astimezone(berlin))
    decoded = activity_codec().decode(activity_codec().encode(record))
    assert decoded["occurred_at"] == T0
    assert decoded["occurred_at"].tzinfo is UTC


def test_pre_epoch_and_far_future_timestamps_round_trip() -> None:
    for moment in (
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 1, 1, tzinfo=UTC),
    ):
        record = page_view(occurred_at=moment)
        assert activity_codec().decode(activity_codec().encode(record))["occurred_at"] == moment


def test_decode_tells_a_profile_from_an_erasure_request() -> None:
    """Both live on candidate.profile under the same key; the fingerprint tells them apart."""
    assert decode(encode("candidate_profile", profile())).subject == "candidate_profile"
    found = decode(encode("erasure_request", erasure()))
    assert found == Decoded("erasure_request", 1, erasure())


def test_nested_timestamps_in_maps_and_arrays_round_trip() -> None:
    record = profile(
        consents={
            "email": {
                "granted": True,
                "granted_at": T0,
                "expires_at": T0 + timedelta(days=730),
                "withdrawn_at": None,
            },
            "ads": {
                "granted": True,
                "granted_at": T0,
                "expires_at": None,
                "withdrawn_at": T0 + timedelta(days=3),
            },
        }
    )
    expected = {**record, "sealed_contact": None}  # v2's new field takes its default
    assert decode_as("candidate_profile", encode("candidate_profile", record)) == expected


def test_missing_optional_fields_take_their_defaults() -> None:
    record = page_view()
    del record["received_at"], record["correlation_id"]
    decoded = activity_codec().decode(activity_codec().encode(record))
    assert decoded["received_at"] is None and decoded["correlation_id"] is None


def test_encoding_does_not_modify_the_callers_record() -> None:
    record = page_view(
        type="career_event_registered", payload={"career_event_id": "e1", "starts_at": T0}
    )
    snapshot = {**record, "payload": dict(record["payload"])}
    activity_codec().encode(record)
    assert record == snapshot
    assert record["occurred_at"] is T0 and record["payload"]["starts_at"] is T0


def test_same_shaped_payloads_keep_their_event_type() -> None:
    """EmailOpened and EmailReplied have identical fields: the codec must not guess."""
    for kind in ("email_opened", "email_replied"):
        record = page_view(type=kind, payload={"action_id": "a1", "campaign_id": "c1"})
        assert activity_codec().decode(activity_codec().encode(record))["type"] == kind


# --- versions -------------------------------------------------------------------------------


def _v1_codec() -> Codec:
    return Codec(default_catalog(), reader_versions={"activity_event": 1})


def test_v1_bytes_decode_with_the_current_reader() -> None:
    record = page_view()
    del record["correlation_id"]
    old_bytes = _v1_codec().encode("activity_event", record)
    assert old_bytes[2:10] == default_catalog().subject("activity_event").version(1).fingerprint
    found = decode(old_bytes)
    assert found.version == 1
    assert found.record == {**record, "correlation_id": None}


def test_v1_bytes_written_by_plain_fastavro_decode_too() -> None:
    """An independent writer (fastavro with the v1 schema as published) is understood."""
    v1 = default_catalog().subject("activity_event").version(1)
    record = page_view()
    del record["correlation_id"]
    body = io.BytesIO()
    payload = ("candidate_nurture.PageViewed", record["payload"])
    fastavro.schemaless_writer(
        body, fastavro.parse_schema(v1.schema), {**record, "payload": payload}
    )
    found = decode(wire.header(v1.fingerprint) + body.getvalue())
    assert (found.version, found.record) == (1, {**record, "correlation_id": None})


def test_a_reader_pinned_to_v1_reads_v2_bytes() -> None:
    record = page_view()
    found = _v1_codec().decode(encode("activity_event", record))
    assert found.version == 2
    assert found.record == {k: v for k, v in record.items() if k != "correlation_id"}


def test_a_reader_pinned_to_v1_writes_v1() -> None:
    with pytest.raises(ValidationError, match="correlation_id: unknown field"):
        _v1_codec().encode("activity_event", page_view())


def test_pinning_an_unknown_subject_or_version_fails() -> None:
    with pytest.raises(SchemaError, match="unknown subject"):
        Codec(default_catalog(), reader_versions={"activity": 1})
    with pytest.raises(SchemaError, match=r"versions 1\.\.2, not 3"):
        Codec(default_catalog(), reader_versions={"activity_event": 3})


# --- interop with the reference implementation (the `avro` package) ------------------------


def test_the_avro_reference_reader_reads_our_bytes() -> None:
    current = default_catalog().subject("activity_event").current
    record = page_view()
    data = encode("activity_event", record)
    reader = avro.io.DatumReader(avro.schema.parse(json.dumps(current.schema)))
    assert reader.read(avro.io.BinaryDecoder(io.BytesIO(data[wire.HEADER_SIZE :]))) == record


def test_we_read_bytes_of_the_avro_reference_writer() -> None:
    current = default_catalog().subject("erasure_request").current
    writer = avro.io.DatumWriter(avro.schema.parse(json.dumps(current.schema)))
    body = io.BytesIO()
    writer.write(erasure(), avro.io.BinaryEncoder(body))
    assert decode(wire.header(current.fingerprint) + body.getvalue()).record == erasure()


# --- errors on decode -----------------------------------------------------------------------


def test_an_unknown_fingerprint_raises_unknown_schema_error() -> None:
    data = b"\xc3\x01" + bytes.fromhex("0123456789abcdef") + b"\x00"
    with pytest.raises(UnknownSchemaError, match="0123456789abcdef") as caught:
        decode(data)
    assert caught.value.fingerprint == bytes.fromhex("0123456789abcdef")
    with pytest.raises(UnknownSchemaError):
        decode_as("activity_event", data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "does not start with the Avro single-object marker"),
        (b"\xc3\x01\x00\x01", "truncated"),
        (b'{"event_id": "e1"}', "looks like JSON"),
        (b"\x00\x00\x00\x00\x07\x02a", "Confluent wire format"),
    ],
)
def test_bytes_that_are_no_frame_raise_corrupt_payload(data: bytes, message: str) -> None:
    with pytest.raises(CorruptPayloadError, match=message):
        decode(data)


def test_a_truncated_body_raises_corrupt_payload() -> None:
    data = encode("activity_event", page_view())
    for cut in (11, len(data) // 2, len(data) - 1):
        with pytest.raises(CorruptPayloadError, match="does not decode"):
            decode(data[:cut])


def test_trailing_bytes_raise_corrupt_payload() -> None:
    data = encode("activity_event", page_view())
    with pytest.raises(CorruptPayloadError, match="1 bytes after the record"):
        decode(data + b"\x00")


def test_garbage_after_a_valid_header_raises_corrupt_payload() -> None:
    header = wire.header(default_catalog().subject("activity_event").current.fingerprint)
    with pytest.raises(CorruptPayloadError):
        decode(header + b"\xff" * 30)


def test_a_timestamp_beyond_the_datetime_range_raises_corrupt_payload() -> None:
    current = default_catalog().subject("erasure_request").current
    body = io.BytesIO()
    fastavro.schemaless_writer(
        body, fastavro.parse_schema(current.schema), {**erasure(), "requested_at": 2**62}
    )
    with pytest.raises(CorruptPayloadError, match="OverflowError"):
        decode(wire.header(current.fingerprint) + body.getvalue())


def test_decode_as_refuses_another_subject() -> None:
    data = encode("erasure_request", erasure())
    with pytest.raises(WrongSubjectError, match="expected a candidate_profile record") as caught:
        decode_as("candidate_profile", data)
    assert (caught.value.actual, caught.value.version) == ("erasure_request", 1)


def test_a_foreign_writer_cannot_smuggle_a_payload_of_another_type() -> None:
    current = default_catalog().subject("activity_event").current
    record = page_view(type="email_opened", payload=("candidate_nurture.EmailReplied", {}))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(current.schema), record)
    with pytest.raises(ValidationError, match="does not match the payload record") as caught:
        decode(wire.header(current.fingerprint) + body.getvalue())
    assert caught.value.field == "type" and caught.value.event_id == "evt-1"


def test_decoded_records_with_empty_ids_are_refused() -> None:
    current = default_catalog().subject("erasure_request").current
    body = io.BytesIO()
    fastavro.schemaless_writer(
        body, fastavro.parse_schema(current.schema), {**erasure(), "candidate_id": ""}
    )
    with pytest.raises(ValidationError, match="candidate_id: must be a non-empty string"):
        decode(wire.header(current.fingerprint) + body.getvalue())


# --- errors on encode -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "record", "field", "reason"),
    [
        (
            "activity_event",
            page_view(occurred_at=datetime(2025, 3, 1, 9, 30)),
            "occurred_at",
            "naive datetime",
        ),
        (
            "activity_event",
            page_view(
                type="career_event_registered",
                payload={"career_event_id": "e", "starts_at": datetime(2025, 4, 1)},
            ),
            "payload.starts_at",
            "naive datetime",
        ),
        (
            "candidate_profile",
            profile(consents={"sms": {"granted": False, "granted_at": datetime(2025, 1, 1)}}),
            "consents.sms.granted_at",
            "naive datetime",
        ),
        ("activity_event", page_view(type="page_view"), "type", "unknown event type 'page_view'"),
        ("activity_event", page_view(type="application_submitted"), "payload.url", "unknown field"),
        (
            "activity_event",
            page_view(type="application_submitted", payload={}),
            "payload.job_id",
            "field required",
        ),
        ("activity_event", page_view(email="ada@example.com"), "email", "unknown field"),
        ("activity_event", page_view(event_id=""), "event_id", "must be a non-empty string"),
        (
            "activity_event",
            page_view(candidate_id=42),
            "candidate_id",
            "expected a string, got int",
        ),
        (
            "activity_event",
            page_view(occurred_at="2025-03-01T09:30:00Z"),
            "occurred_at",
            "expected a timezone-aware datetime",
        ),
        ("erasure_request", {**erasure(), "reason": 7}, "reason", "expected a string, got int"),
    ],
)
def test_encode_errors_name_the_field(
    subject: str, record: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        encode(subject, record)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_out_of_range_ints_are_refused_with_their_field() -> None:
    record = {
        "candidate_id": "cand-1", "score": 1.0, "tier": "warm", "previous_tier": None, "as_of": T0,
        "model_version": "m1", "contributions": {}, "last_event_id": "e1",
        "last_event_type": "page_viewed", "last_activity_at": T0, "source_partition": 2**31,
        "source_offset": 7,
    }  # fmt: skip
    with pytest.raises(ValidationError, match="source_partition: expected a 32-bit int"):
        encode("engagement_record", record)
    assert (
        decode(encode("engagement_record", {**record, "source_partition": 3})).record[
            "source_partition"
        ]
        == 3
    )


def test_encode_errors_carry_the_event_id() -> None:
    with pytest.raises(ValidationError) as caught:
        encode("activity_event", page_view(type="nope"))
    assert caught.value.event_id == "evt-1"
    assert str(caught.value).endswith("(event evt-1)")


def test_unknown_subjects_are_refused() -> None:
    with pytest.raises(SchemaError, match="unknown subject 'activity'"):
        encode("activity", page_view())
    with pytest.raises(SchemaError, match="known subjects: activity_event"):
        codec_for("profile")


def test_every_subject_has_a_codec() -> None:
    assert {codec_for(s).subject for s in SUBJECTS} == set(SUBJECTS)
    assert default_codec() is default_codec()
    assert activity_codec().event_types[0] == "application_submitted"
