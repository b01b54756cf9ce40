"""Per-candidate data keys and their records on the compacted ``candidate.keys`` topic.

Record key ``<candidate_id>/<key_id>``: every key a producer creates gets a fresh random
``key_id``, so two producers creating a key for the same candidate at once write two records
and neither overwrites the other; every sealed contact names the ``key_id`` it was sealed with,
so each stays readable. A key record is never rewritten except to re-wrap it under a new KEK
(same record key, same data key). Erasure writes a tombstone (null value) for every
``<candidate_id>/*`` key; compaction then removes the keys, and every contact sealed with them,
on any topic and in any backup, becomes unreadable.

Record value: UTF-8 JSON ``{"format": "nurture-data-key/1", "kek_id", "nonce", "wrapped_key",
"created_at"}`` (binary fields base64url without padding); never the data key in the clear.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.privacy.errors import KeyRecordError
from schemas.privacy.kek import KEY_BYTES, KeyEncryptionKeys, WrappedKey, b64decode, b64encode

FORMAT = "nurture-data-key/1"
_WRAP_CONTEXT = b"candidate-nurture data key v1\x00"


@dataclass(frozen=True)
class DataKey:
    """An AES-256 key that seals one candidate's contact details."""

    candidate_id: str
    key_id: str
    secret: bytes = field(repr=False)

    @property
    def record_key(self) -> str:
        return record_key(self.candidate_id, self.key_id)


def new_data_key(candidate_id: str) -> DataKey:
    """A fresh random data key for ``candidate_id`` with a fresh random key id."""
    return DataKey(candidate_id, uuid.uuid4().hex, os.urandom(KEY_BYTES))


def record_key(candidate_id: str, key_id: str) -> str:
    """The Kafka key of a data key record: ``<candidate_id>/<key_id>``."""
    return f"{candidate_id}/{key_id}"


def split_record_key(key: str) -> tuple[str, str]:
    """``(candidate_id, key_id)`` of a record key (candidate ids may contain ``/``, key ids not)."""
    candidate_id, sep, key_id = key.rpartition("/")
    if not sep or not candidate_id or not key_id:
        raise KeyRecordError(key, "expected <candidate_id>/<key_id>")
    return candidate_id, key_id


def owns(candidate_id: str, key: bytes | None) -> bool:
    """True when the record key ``key`` names a data key of ``candidate_id``."""
    if key is None:
        return False
    try:
        return split_record_key(key.decode("utf-8"))[0] == candidate_id
    except (UnicodeDecodeError, KeyRecordError):
        return False


def encode_key_record(
    key: DataKey, keks: KeyEncryptionKeys, *, now: datetime | None = None
) -> tuple[bytes, bytes]:
    """``(record key, value)`` of ``key``, wrapped under the current KEK."""
    name = key.record_key
    wrapped = keks.wrap(key.secret, _WRAP_CONTEXT + name.encode())
    value = {
        "format": FORMAT,
        "kek_id": wrapped.kek_id,
        "nonce": b64encode(wrapped.nonce),
        "wrapped_key": b64encode(wrapped.ciphertext),
        "created_at": (now or datetime.now(UTC)).isoformat(),
    }
    return name.encode(), json.dumps(value, separators=(",", ":")).encode()


def wrapped_kek_id(key: bytes, value: bytes) -> str:
    """The id of the KEK a key record was wrapped with (for rotation); KeyRecordError if bad."""
    return str(_parse_value(key.decode("utf-8", "replace"), value)["kek_id"])


def decode_key_record(key: bytes, value: bytes, keks: KeyEncryptionKeys) -> DataKey:
    """The data key of a key record; :class:`KeyRecordError` when malformed or not unwrappable."""
    name = key.decode("utf-8", "replace")
    candidate_id, key_id = split_record_key(name)
    document = _parse_value(name, value)
    try:
        wrapped = WrappedKey(
            document["kek_id"], b64decode(document["nonce"]), b64decode(document["wrapped_key"])
        )
        secret = keks.unwrap(wrapped, _WRAP_CONTEXT + name.encode())
    except ValueError as exc:
        raise KeyRecordError(name, str(exc)) from None
    return DataKey(candidate_id, key_id, secret)


def _parse_value(name: str, value: bytes) -> dict[str, Any]:
    try:
        document = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        raise KeyRecordError(name, "value is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise KeyRecordError(name, f"value is not a {FORMAT} document")
    for name_ in ("kek_id", "nonce", "wrapped_key"):
        if not isinstance(document.get(name_), str):
            raise KeyRecordError(name, f"value lacks {name_}")
    return document
