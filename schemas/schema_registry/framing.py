"""The Confluent wire format: ``00`` (magic byte), the 4-byte big-endian schema id the registry
gave the writer schema, then the Avro binary body; and how to tell it from single-object
encoding (``C3 01`` + 8-byte fingerprint, :mod:`schemas.wire`) by the first byte.
"""

from __future__ import annotations

from typing import Literal

from schemas.errors import CorruptPayloadError, TombstoneError

#: The byte that opens every Confluent-framed record (the format version, always 0).
MAGIC = b"\x00"
#: Magic byte and schema id: where the Avro body starts.
HEADER_SIZE = 5
#: The largest schema id the 4 bytes hold (a signed 32-bit int in Java).
MAX_SCHEMA_ID = 2**31 - 1

Framing = Literal["single-object", "confluent"]


def header(schema_id: int) -> bytes:
    """The 5 bytes that precede the body of a record written with schema ``schema_id``."""
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise ValueError(f"a schema id is 0..{MAX_SCHEMA_ID}, got {schema_id}")
    return MAGIC + schema_id.to_bytes(4, "big")


def framing_of(data: bytes | None) -> Framing:
    """Which framing ``data`` carries, by its first byte (``00`` Confluent, else single-object:
    the single-object decoder then says what is wrong with anything else)."""
    return "confluent" if data and data[0] == 0 else "single-object"


def read_schema_id(data: bytes | None) -> int:
    """The schema id of a Confluent frame; :class:`CorruptPayloadError` when it is too short
    (:class:`TombstoneError` when there is no value at all)."""
    if data is None:
        raise TombstoneError(
            "value is null (a tombstone): a record must be Avro, Confluent framed "
            "(00 + 4-byte schema id + body) or single-object encoded (C3 01 + fingerprint + body)"
        )
    if len(data) < HEADER_SIZE or data[:1] != MAGIC:
        shown = data[:HEADER_SIZE].hex(" ") or "nothing"
        raise CorruptPayloadError(
            f"payload of {len(data)} bytes is no Confluent frame: it needs {HEADER_SIZE} header "
            f"bytes (00 + 4-byte schema id), starts with {shown}"
        )
    return int.from_bytes(data[1:HEADER_SIZE], "big")
