"""Avro single-object encoding: the frame around every record we put on Kafka.

A frame is ``C3 01`` (marker, format version 1), then the 8-byte little-endian CRC-64-AVRO
fingerprint of the writer schema's Parsing Canonical Form, then the Avro binary body. Any reader
that has the writer's schema (our registry) can decode it; no schema-registry service is needed.
See https://avro.apache.org/docs/1.12.0/specification/#single-object-encoding.
"""

from __future__ import annotations

from schemas.errors import CorruptPayloadError, TombstoneError

#: The two marker bytes that open every single-object encoded record.
MARKER = b"\xc3\x01"
#: Length of the fingerprint that follows the marker.
FINGERPRINT_SIZE = 8
#: Where the Avro body starts.
HEADER_SIZE = len(MARKER) + FINGERPRINT_SIZE


def header(fingerprint: bytes) -> bytes:
    """The 10 bytes that precede the body of a record written with that schema fingerprint."""
    if len(fingerprint) != FINGERPRINT_SIZE:
        raise ValueError(f"a fingerprint has {FINGERPRINT_SIZE} bytes, got {len(fingerprint)}")
    return MARKER + fingerprint


def read_fingerprint(data: bytes | None) -> bytes:
    """The writer-schema fingerprint of a frame; :class:`CorruptPayloadError` if it is no frame
    (:class:`TombstoneError` if there is no value at all: a Kafka record's value may be null)."""
    if data is None:
        raise TombstoneError(
            "value is null (a tombstone): a record must be Avro single-object encoded "
            "(C3 01 + 8-byte schema fingerprint + body)"
        )
    if len(data) < HEADER_SIZE or data[:2] != MARKER:
        raise CorruptPayloadError(_why_not_a_frame(data))
    return data[2:HEADER_SIZE]


def _why_not_a_frame(data: bytes) -> str:
    if data[:2] == MARKER:
        return (
            f"payload of {len(data)} bytes is truncated: Avro single-object encoding needs "
            f"{HEADER_SIZE} header bytes (C3 01 + 8-byte schema fingerprint)"
        )
    shown = f"starts with {data[:5].hex(' ')}" if data else "is empty (0 bytes)"
    hint = ""
    if data[:1] == b"\x00":
        hint = " (looks like Confluent wire format: 00 + schema id)"
    elif data[:1] in (b"{", b"["):
        hint = " (looks like JSON)"
    return f"payload does not start with the Avro single-object marker C3 01; it {shown}{hint}"
