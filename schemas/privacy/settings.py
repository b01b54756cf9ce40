"""Where the key-encryption key (KEK) comes from: one frozen settings model, loaded once.

Environment variables (all optional):

====================================  ========================================================
``NURTURE_PRIVACY_KEK``               the current KEK, 32 bytes as base64url (secret); wins
                                      over the file
``NURTURE_PRIVACY_KEK_FILE``          file holding the current KEK (default: ``privacy-kek``
                                      in the user data dir, ``~/.local/share/candidate-nurture``)
``NURTURE_PRIVACY_PREVIOUS_KEKS``     comma-separated earlier KEKs that still unwrap keys during
                                      a rotation (secret)
``NURTURE_PRIVACY_GENERATE_KEK``      create the KEK file with a random key when it is missing
                                      (true: the local setup works without a step; set false in
                                      production so a missing secret fails loudly)
``NURTURE_PRIVACY_KEY_SCAN_TIMEOUT_S`` longest read of ``candidate.keys`` by an erasure (60 s)
====================================  ========================================================

Every process that writes or reads personal data (SDK, gateway, delivery, ``nurture erase`` and
``nurture erasure verify``) must see the same KEK. Rotation: docs/privacy.md.
"""

from __future__ import annotations

import logging
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.privacy.errors import KekConfigError
from schemas.privacy.kek import KeyEncryptionKeys, new_kek_text, parse_kek

log = logging.getLogger(__name__)


def default_kek_file() -> Path:
    """``privacy-kek`` next to the local broker's data and the gateway's generated API keys."""
    return user_data_path("candidate-nurture") / "privacy-kek"


class PrivacySettings(BaseSettings):
    """The key-encryption keys (see the module docstring for the variables)."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_PRIVACY_", frozen=True, extra="ignore")

    kek: SecretStr | None = Field(None, description="Current KEK, base64url (32 bytes).")
    kek_file: Path = Field(default_factory=default_kek_file, description="File of the KEK.")
    previous_keks: SecretStr | None = Field(None, description="Earlier KEKs, comma-separated.")
    generate_kek: bool = Field(True, description="Create a missing KEK file (local use).")
    key_scan_timeout_s: float = Field(60.0, gt=0, description="Longest key topic scan, s.")

    def key_encryption_keys(self) -> KeyEncryptionKeys:
        """The KEKs, reading (or creating) the KEK file when no KEK is set in the environment."""
        if self.kek is not None:
            current = parse_kek(self.kek.get_secret_value(), where="NURTURE_PRIVACY_KEK")
        else:
            current = parse_kek(self._read_or_create_file(), where=str(self.kek_file))
        previous: list[bytes] = []
        if self.previous_keks is not None:
            for text in self.previous_keks.get_secret_value().split(","):
                if text.strip():
                    previous.append(parse_kek(text, where="NURTURE_PRIVACY_PREVIOUS_KEKS"))
        return KeyEncryptionKeys(current, tuple(previous))

    def _read_or_create_file(self) -> str:
        path = self.kek_file
        if not path.exists():
            if not self.generate_kek:
                raise KekConfigError(
                    f"no key-encryption key: set NURTURE_PRIVACY_KEK or create {path} "
                    "(see docs/privacy.md)"
                )
            ensure_kek_file(path)
        try:
            return path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise KekConfigError(f"cannot read the key-encryption key file {path}: {exc}") from exc


def ensure_kek_file(path: Path) -> Path:
    """Create ``path`` (mode 0600) holding a random KEK unless it exists; atomic across processes.

    The key is written to a private temporary file that is then hard-linked into place, so a
    concurrent reader never sees a half-written key and two racing creators agree on one key.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".privacy-kek-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:  # mkstemp makes it 0600
            out.write(new_kek_text() + "\n")
        try:
            os.link(temporary, path)
            log.warning(
                "generated a local key-encryption key in %s: fine for local use; in production "
                "set NURTURE_PRIVACY_KEK from a secret store (docs/privacy.md)",
                path,
            )
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        os.unlink(temporary)
    return path


@lru_cache(maxsize=1)
def load_privacy_settings() -> PrivacySettings:
    """The process-wide privacy settings from the environment."""
    return PrivacySettings()
