"""Crypto-shredding building blocks: sealing contacts, wrapping data keys, the v2 profile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.catalog import default_catalog
from schemas.codec import Codec, default_codec
from schemas.compatibility import can_read
from schemas.models import parse_profile
from schemas.privacy.contact import (
    EMPTY_CONTACT,
    has_plaintext_contact,
    open_contact,
    open_profile,
    seal_profile,
)
from schemas.privacy.data_keys import (
    decode_key_record,
    encode_key_record,
    new_data_key,
    owns,
    split_record_key,
)
from schemas.privacy.errors import KekConfigError, KeyRecordError, UnreadableError
from schemas.privacy.kek import KeyEncryptionKeys, new_kek_text, parse_kek
from schemas.privacy.settings import PrivacySettings, ensure_kek_file

CONTACT = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "phone": None}


def keks(*previous: bytes) -> KeyEncryptionKeys:
    return KeyEncryptionKeys(parse_kek(new_kek_text(), where="test"), previous)


def profile(candidate_id: str = "cand-1") -> dict[str, Any]:
    return parse_profile(
        {
            "candidate_id": candidate_id,
            "contact": CONTACT,
            "updated_at": datetime(2025, 3, 1, tzinfo=UTC),
            "source": "crm",
        }
    ).to_avro()


def test_a_sealed_profile_holds_no_plaintext_and_opens_with_its_key() -> None:
    key = new_data_key("cand-1")
    sealed = seal_profile(profile(), key)
    assert sealed["contact"] == EMPTY_CONTACT
    assert not has_plaintext_contact(sealed)
    data = default_codec().encode("candidate_profile", sealed)
    assert b"ada@example.com" not in data and b"Lovelace" not in data
    opened = open_profile(default_codec().decode(data).record, lambda cid, kid: key)
    assert opened["contact"] == CONTACT and opened["sealed_contact"] is None
    assert parse_profile(opened).contact.email == "ada@example.com"


def test_without_its_key_a_sealed_contact_is_unreadable() -> None:
    sealed = seal_profile(profile(), new_data_key("cand-1"))
    with pytest.raises(UnreadableError) as caught:
        open_profile(sealed, lambda cid, kid: None)
    assert caught.value.reason == "key_missing"
    assert "example.com" not in str(caught.value) and "Lovelace" not in str(caught.value)


def test_a_sealed_contact_moved_to_another_candidate_does_not_open() -> None:
    key = new_data_key("cand-1")
    sealed = seal_profile(profile(), key)["sealed_contact"]
    foreign = new_data_key("cand-2").__class__("cand-2", key.key_id, key.secret)
    with pytest.raises(UnreadableError, match="key_mismatch"):
        open_contact("cand-2", sealed, foreign)
    wrong = new_data_key("cand-1")
    with pytest.raises(UnreadableError, match="key_mismatch"):
        open_contact("cand-1", sealed, wrong.__class__("cand-1", key.key_id, wrong.secret))


def test_key_records_never_hold_the_key_in_the_clear_and_unwrap() -> None:
    ring = keks()
    key = new_data_key("cand/with/slashes")
    record_key, value = encode_key_record(key, ring)
    assert record_key == f"cand/with/slashes/{key.key_id}".encode()
    assert split_record_key(record_key.decode()) == ("cand/with/slashes", key.key_id)
    assert owns("cand/with/slashes", record_key) and not owns("cand", record_key)
    assert key.secret not in value
    assert decode_key_record(record_key, value, ring) == key


def test_a_wrapped_key_copied_to_another_record_key_does_not_unwrap() -> None:
    ring = keks()
    _, value = encode_key_record(new_data_key("cand-1"), ring)
    with pytest.raises(KeyRecordError, match="authenticate"):
        decode_key_record(b"cand-2/0123", value, ring)


def test_rotation_previous_keks_still_unwrap_and_unknown_ones_fail_clearly() -> None:
    old = keks()
    key = new_data_key("cand-1")
    record_key, value = encode_key_record(key, old)
    rotated = keks(old.current)
    assert decode_key_record(record_key, value, rotated) == key
    with pytest.raises(KeyRecordError, match="not configured"):
        decode_key_record(record_key, value, keks())
    assert "current=" in repr(rotated) and old.current.hex() not in repr(rotated)


def test_kek_settings_read_the_environment_or_make_one_private_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "privacy-kek"
    settings = PrivacySettings(kek_file=path)
    first = settings.key_encryption_keys()
    assert path.stat().st_mode & 0o777 == 0o600
    assert settings.key_encryption_keys() == first  # read back, not made again
    assert ensure_kek_file(path) == path and list(path.parent.iterdir()) == [path]
    text = new_kek_text()
    from_env = PrivacySettings(kek=SecretStr(text), previous_keks=SecretStr(f" ,{text}"))
    assert from_env.key_encryption_keys().previous == (parse_kek(text, where="t"),)
    with pytest.raises(KekConfigError, match="NURTURE_PRIVACY_KEK"):
        PrivacySettings(kek=SecretStr("c2hvcnQ")).key_encryption_keys()
    with pytest.raises(KekConfigError, match="no key-encryption key"):
        PrivacySettings(kek_file=tmp_path / "absent", generate_kek=False).key_encryption_keys()


# --- the contract: candidate_profile v2 ------------------------------------------------------


def test_profile_v2_is_fully_compatible_with_v1_both_ways() -> None:
    subject = default_catalog().subject("candidate_profile")
    v1, v2 = subject.version(1), subject.version(2)
    assert subject.current.version == 2
    assert can_read(v2, v1) is None and can_read(v1, v2) is None


def test_a_v1_reader_reads_a_sealed_v2_record_without_any_contact() -> None:
    data = default_codec().encode("candidate_profile", seal_profile(profile(), new_data_key("c")))
    old_reader = Codec(default_catalog(), reader_versions={"candidate_profile": 1})
    decoded = old_reader.decode(data)
    assert decoded.version == 2 and "sealed_contact" not in decoded.record
    assert decoded.record["contact"] == EMPTY_CONTACT


def test_v1_records_decode_with_v2_as_plaintext_unsealed_profiles() -> None:
    old_writer = Codec(default_catalog(), reader_versions={"candidate_profile": 1})
    v1_record = {k: v for k, v in profile().items() if k != "sealed_contact"}
    decoded = default_codec().decode(old_writer.encode("candidate_profile", v1_record))
    assert decoded.version == 1 and decoded.record["sealed_contact"] is None
    assert has_plaintext_contact(decoded.record)
    assert open_profile(decoded.record, lambda cid, kid: None)["contact"] == CONTACT
