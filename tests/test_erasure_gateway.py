"""The gateway seals contacts and its DELETE erases the candidate's keys (real broker)."""

from __future__ import annotations

from contextlib import closing

import pytest

from consumers.profiles import ERASED, ProfileState
from producers.key_shredding import live_key_names
from schemas.models import CandidateProfile
from schemas.settings import KafkaSettings
from schemas.topics import KEYS, PROFILE
from tests.test_gateway_profiles import PROFILE_BODY
from tests.test_gateway_support import auth, records_on, running_gateway

pytestmark = pytest.mark.kafka


def test_gateway_seals_then_delete_makes_the_contact_unreadable(kafka: KafkaSettings) -> None:
    with running_gateway(kafka) as client:
        for _ in range(2):  # the second upsert reuses the gateway's key
            put = client.put("/v1/candidates/cand-g/profile", json=PROFILE_BODY, headers=auth())
            assert put.status_code == 202, put.text
        client.put("/v1/candidates/cand-h/profile", json=PROFILE_BODY, headers=auth())
        assert len(live_key_names(kafka, "cand-g", timeout_s=30)) == 1
        with closing(ProfileState(kafka)) as state:
            state.catch_up()
            opened = state.get("cand-g")
            assert isinstance(opened, CandidateProfile)
            assert opened.contact.email == "ada@example.com"
        deleted = client.delete("/v1/candidates/cand-g?reason=gdpr_art17", headers=auth())
        assert deleted.status_code == 202, deleted.text
    assert all(b"ada@example.com" not in r.value for r in records_on(kafka, PROFILE))
    assert live_key_names(kafka, "cand-g", timeout_s=30) == []
    assert len(live_key_names(kafka, "cand-h", timeout_s=30)) == 1
    assert [r.value for r in records_on(kafka, KEYS) if r.key.startswith(b"cand-g/")][-1] is None
    with closing(ProfileState(kafka)) as state:
        state.catch_up()
        assert state.get("cand-g") == ERASED
        assert isinstance(state.get("cand-h"), CandidateProfile)
