"""The key-encryption key (KEK): wraps every per-candidate data key kept on ``candidate.keys``.

Data keys never travel in the clear: each key record holds the data key encrypted with AES-GCM
under the KEK, bound (associated data) to its record key, so a wrapped key copied to another
candidate's record does not open. ``previous`` KEKs still unwrap during a rotation; new keys are
always wrapped with ``current``. Each KEK is named by a short id derived from it (HMAC), stored
with the wrapped key, so a reader knows which KEK to use without trying them all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.privacy.errors import KekConfigError

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard 96-bit nonce


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding (the text form of keys, nonces and ciphertexts)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Inverse of :func:`b64encode`; raises ValueError for text that is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def kek_id(kek: bytes) -> str:
    """A short public name of a KEK (12 hex digits of an HMAC of it; reveals nothing about it)."""
    return hmac.new(kek, b"candidate-nurture kek id", hashlib.sha256).hexdigest()[:12]


def parse_kek(text: str, *, where: str) -> bytes:
    """A KEK from its base64url text (32 bytes); :class:`KekConfigError` naming ``where``."""
    try:
        key = b64decode(text.strip())
    except ValueError:
        raise KekConfigError(f"{where}: not base64url text") from None
    if len(key) != KEY_BYTES:
        raise KekConfigError(f"{where}: a key-encryption key is {KEY_BYTES} bytes, got {len(key)}")
    return key


def new_kek_text() -> str:
    """A fresh random KEK in its text form (for a local key file or a secret store)."""
    return b64encode(os.urandom(KEY_BYTES))


class WrappedKey(NamedTuple):
    """A data key encrypted under a KEK."""

    kek_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class KeyEncryptionKeys:
    """The current KEK (wraps new keys) and previous ones (still unwrap during a rotation)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        for key in (self.current, *self.previous):
            if len(key) != KEY_BYTES:
                raise KekConfigError(f"a key-encryption key is {KEY_BYTES} bytes")

    @property
    def current_id(self) -> str:
        return kek_id(self.current)

    def __repr__(self) -> str:  # never show key material
        return f"KeyEncryptionKeys(current={self.current_id}, previous={len(self.previous)})"

    def wrap(self, data_key: bytes, associated: bytes) -> WrappedKey:
        """``data_key`` encrypted under the current KEK, bound to ``associated``."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(self.current).encrypt(nonce, data_key, associated)
        return WrappedKey(self.current_id, nonce, ciphertext)

    def knows(self, wrapped_kek_id: str) -> bool:
        """True when the KEK named ``wrapped_kek_id`` is configured (current or previous)."""
        return any(kek_id(k) == wrapped_kek_id for k in (self.current, *self.previous))

    def unwrap(self, wrapped: WrappedKey, associated: bytes) -> bytes:
        """The data key; ValueError when its KEK is not configured or it does not authenticate."""
        for key in (self.current, *self.previous):
            if kek_id(key) == wrapped.kek_id:
                try:
                    return AESGCM(key).decrypt(wrapped.nonce, wrapped.ciphertext, associated)
                except InvalidTag:
                    raise ValueError("the wrapped key does not authenticate") from None
        raise ValueError(
            f"wrapped with key-encryption key {wrapped.kek_id}, which is not configured"
        )
