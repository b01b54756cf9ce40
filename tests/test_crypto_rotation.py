"""KEK rotation against the real broker: rewrap under the new KEK, then the old one can go."""

from __future__ import annotations

from contextlib import closing

import pytest
from pydantic import SecretStr

from consumers.profiles import ERASED, ProfileState
from producers import NurtureProducer
from producers.key_rotation import rewrap_keys
from producers.key_shredding import shred_keys
from schemas.models import CandidateProfile
from schemas.privacy.kek import new_kek_text
from schemas.privacy.settings import PrivacySettings
from schemas.settings import KafkaSettings
from tests.test_delivery_support import profile

pytestmark = pytest.mark.kafka


def test_rewrap_moves_every_key_to_the_new_kek(kafka: KafkaSettings) -> None:
    old_text, new_text = new_kek_text(), new_kek_text()
    old = PrivacySettings(kek=SecretStr(old_text))
    rotating = PrivacySettings(kek=SecretStr(new_text), previous_keks=SecretStr(old_text))
    new_only = PrivacySettings(kek=SecretStr(new_text))
    with NurtureProducer(kafka, privacy=old) as producer:
        for candidate in ("cand-1", "cand-2", "cand-3"):
            producer.upsert_profile(profile(candidate)).get(timeout=20)
    assert shred_keys(kafka, "cand-3", timeout_s=30) == 1
    with closing(ProfileState(kafka, new_only.key_encryption_keys())) as before:
        before.catch_up()
        assert before.get("cand-1") == ERASED  # unreadable without the old KEK

    report = rewrap_keys(kafka, rotating.key_encryption_keys(), timeout_s=30)
    assert (report.live, report.rewrapped, report.unusable, report.erased_again) == (2, 2, 0, 0)
    again = rewrap_keys(kafka, rotating.key_encryption_keys(), timeout_s=30)
    assert (again.live, again.rewrapped) == (2, 0)

    with closing(ProfileState(kafka, new_only.key_encryption_keys())) as after:
        after.catch_up()
        for candidate in ("cand-1", "cand-2"):
            opened = after.get(candidate)
            assert isinstance(opened, CandidateProfile)
            assert opened.contact.email == f"{candidate}@example.org"
        assert after.get("cand-3") == ERASED  # an erased key is not brought back
    stranger = rewrap_keys(kafka, new_only.key_encryption_keys(), timeout_s=30)
    assert stranger.unusable == 0  # all live keys now name the new KEK
    unknown = rewrap_keys(
        kafka, PrivacySettings(kek=SecretStr(new_kek_text())).key_encryption_keys(), timeout_s=30
    )
    assert unknown.unusable == 2 and unknown.rewrapped == 0
