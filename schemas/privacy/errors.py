"""Errors of crypto-shredding; all are :class:`~schemas.errors.NurtureError`."""

from __future__ import annotations

from schemas.errors import ConfigError, NurtureError


class PrivacyError(NurtureError):
    """Root of the crypto-shredding errors."""


class UnreadableError(PrivacyError):
    """Sealed data cannot be opened: its data key is gone (erased) or does not fit.

    ``reason`` is ``key_missing`` (no live key record: erased, or never written) or
    ``key_mismatch`` (the key did not authenticate the ciphertext: corrupt or foreign data).
    """

    def __init__(self, candidate_id: str, key_id: str, reason: str) -> None:
        self.candidate_id = candidate_id
        self.key_id = key_id
        self.reason = reason
        super().__init__(f"sealed data of a candidate with key {key_id} is unreadable: {reason}")


class KeyRecordError(PrivacyError):
    """A record on the key topic is malformed or wrapped with a key-encryption key not configured.

    Not retriable: configure the missing previous key-encryption key (see docs/privacy.md).
    """

    def __init__(self, record_key: str, detail: str) -> None:
        self.record_key = record_key
        super().__init__(f"key record {record_key!r}: {detail}")


class KekConfigError(ConfigError):
    """The key-encryption key settings are missing or invalid."""
