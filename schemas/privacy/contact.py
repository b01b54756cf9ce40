"""Sealing a profile's contact (all its PII) with the candidate's data key: AES-256-GCM.

The plaintext is the contact record as compact JSON; the associated data binds the ciphertext
to the candidate and the key id, so a sealed contact copied into another candidate's profile
does not open. A fresh random 96-bit nonce per seal (a data key seals few contacts: one per
profile upsert, far below GCM's limits for random nonces).

On the wire (``candidate_profile`` v2) a sealed profile has an empty ``contact`` (every field
null) and a ``sealed_contact`` record ``{key_id, algorithm, nonce, ciphertext}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.privacy.data_keys import DataKey
from schemas.privacy.errors import UnreadableError
from schemas.privacy.kek import NONCE_BYTES, b64decode, b64encode

ALGORITHM = "AES-256-GCM"
#: The contact of a sealed profile on the wire: nothing personal left in the clear.
EMPTY_CONTACT: dict[str, Any] = {
    "email": None,
    "first_name": None,
    "last_name": None,
    "phone": None,
}
_CONTEXT = b"candidate-nurture contact v1\x00"


def _associated(candidate_id: str, key_id: str) -> bytes:
    return _CONTEXT + candidate_id.encode() + b"\x00" + key_id.encode()


def seal_contact(contact: Mapping[str, Any], key: DataKey) -> dict[str, str]:
    """The ``sealed_contact`` record of ``contact`` (a plain dict of the Contact fields)."""
    plaintext = json.dumps(dict(contact), separators=(",", ":"), sort_keys=True).encode()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key.secret).encrypt(
        nonce, plaintext, _associated(key.candidate_id, key.key_id)
    )
    return {
        "key_id": key.key_id,
        "algorithm": ALGORITHM,
        "nonce": b64encode(nonce),
        "ciphertext": b64encode(ciphertext),
    }


def open_contact(
    candidate_id: str, sealed: Mapping[str, Any], key: DataKey | None
) -> dict[str, Any]:
    """The contact dict sealed in ``sealed``; :class:`UnreadableError` when ``key`` cannot open it.

    ``key`` None means the key record is gone: the candidate was erased (crypto-shredded).
    """
    key_id = str(sealed.get("key_id"))
    if key is None:
        raise UnreadableError(candidate_id, key_id, "key_missing")
    if sealed.get("algorithm", ALGORITHM) != ALGORITHM or key.key_id != key_id:
        raise UnreadableError(candidate_id, key_id, "key_mismatch")
    try:
        plaintext = AESGCM(key.secret).decrypt(
            b64decode(str(sealed["nonce"])),
            b64decode(str(sealed["ciphertext"])),
            _associated(candidate_id, key_id),
        )
        contact = json.loads(plaintext)
    except (InvalidTag, ValueError, KeyError):
        raise UnreadableError(candidate_id, key_id, "key_mismatch") from None
    if not isinstance(contact, dict):
        raise UnreadableError(candidate_id, key_id, "key_mismatch")
    return contact


def seal_profile(record: Mapping[str, Any], key: DataKey) -> dict[str, Any]:
    """A profile's Avro dict with its contact sealed (``contact`` emptied)."""
    sealed = dict(record)
    sealed["sealed_contact"] = seal_contact(record["contact"], key)
    sealed["contact"] = dict(EMPTY_CONTACT)
    return sealed


def is_sealed(record: Mapping[str, Any]) -> bool:
    """True when a decoded profile carries its contact sealed."""
    return record.get("sealed_contact") is not None


def has_plaintext_contact(record: Mapping[str, Any]) -> bool:
    """True when a decoded profile carries personal data in the clear (a v1 record)."""
    contact = record.get("contact") or {}
    return any(value is not None for value in contact.values())


def open_profile(
    record: Mapping[str, Any], key_for: Callable[[str, str], DataKey | None]
) -> dict[str, Any]:
    """A profile's Avro dict with its contact opened (unsealed records are returned as they are).

    ``key_for(candidate_id, key_id)`` finds a live data key. :class:`UnreadableError` when erased.
    """
    sealed = record.get("sealed_contact")
    if sealed is None:
        return dict(record)
    candidate_id = str(record["candidate_id"])
    key = key_for(candidate_id, str(sealed.get("key_id")))
    opened = dict(record)
    opened["contact"] = open_contact(candidate_id, sealed, key)
    opened["sealed_contact"] = None
    return opened
