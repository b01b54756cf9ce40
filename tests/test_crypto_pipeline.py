"""Crypto-shredding against the real broker: SDK sealing, the key race, delivery, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from consumers.guards import refusal
from consumers.keyring import KeyRing
from consumers.profiles import ERASED, ProfileState
from producers import NurtureProducer
from producers.key_shredding import live_key_names, shred_keys
from schemas.codec import default_codec
from schemas.models import CandidateProfile
from schemas.privacy.contact import has_plaintext_contact, open_profile
from schemas.privacy.errors import UnreadableError
from schemas.privacy.settings import load_privacy_settings
from schemas.settings import KafkaSettings
from schemas.topics import KEYS, PROFILE
from tests.kafka_helpers import read_all
from tests.test_delivery_support import NOW, action, profile

pytestmark = pytest.mark.kafka


@pytest.fixture
def state(kafka: KafkaSettings) -> Iterator[ProfileState]:
    with closing(ProfileState(kafka)) as profiles:
        yield profiles


def _upsert(producer: NurtureProducer, candidate_id: str, first_name: str = "Ada") -> None:
    value = profile(candidate_id).model_copy(
        update={
            "contact": profile(candidate_id).contact.model_copy(update={"first_name": first_name})
        }
    )
    producer.upsert_profile(value).get(timeout=20)


def test_profiles_reach_kafka_sealed_and_delivery_opens_them(
    kafka: KafkaSettings, state: ProfileState
) -> None:
    with NurtureProducer(kafka) as producer:
        _upsert(producer, "cand-a")
        _upsert(producer, "cand-a", first_name="Augusta")  # the cached key is reused
    records = read_all(kafka, kafka.topic(PROFILE))
    assert len(records) == 2
    for record in records:
        assert b"cand-a@example.org" not in record.value and b"Ada" not in record.value
        assert not has_plaintext_contact(default_codec().decode(record.value).record)
    assert len(live_key_names(kafka, "cand-a", timeout_s=30)) == 1
    state.catch_up()
    found = state.get("cand-a")
    assert isinstance(found, CandidateProfile)
    assert found.contact.email == "cand-a@example.org" and found.contact.first_name == "Augusta"
    assert refusal(action("cand-a"), found, NOW) is None


def test_two_producers_racing_for_one_candidate_both_stay_readable(kafka: KafkaSettings) -> None:
    with NurtureProducer(kafka) as first, NurtureProducer(kafka) as second:
        _upsert(first, "cand-race", first_name="One")
        _upsert(second, "cand-race", first_name="Two")
        _upsert(first, "cand-race", first_name="Three")
    names = live_key_names(kafka, "cand-race", timeout_s=30)
    assert len(names) == 2  # one key per producer, neither overwrote the other
    keks = load_privacy_settings().key_encryption_keys()
    with closing(KeyRing(kafka, keks)) as ring:
        ring.catch_up()
        opened = [
            open_profile(default_codec().decode(r.value).record, ring.key)["contact"]["first_name"]
            for r in read_all(kafka, kafka.topic(PROFILE))
        ]
    assert opened == ["One", "Two", "Three"]


def test_shredded_keys_make_every_retained_contact_unreadable(
    kafka: KafkaSettings, state: ProfileState
) -> None:
    with NurtureProducer(kafka) as producer:
        _upsert(producer, "cand-gone")
        _upsert(producer, "cand-kept")
    assert shred_keys(kafka, "cand-gone", timeout_s=30) == 1
    assert shred_keys(kafka, "cand-gone", timeout_s=30) == 0  # nothing live is left
    state.catch_up()
    assert state.get("cand-gone") == ERASED  # a send is suppressed as erased
    assert refusal(action("cand-gone"), state.get("cand-gone"), NOW) == "erased"
    assert isinstance(state.get("cand-kept"), CandidateProfile)
    # The sealed record is still in the log (compaction is lazy) but can never be opened.
    keks = load_privacy_settings().key_encryption_keys()
    with closing(KeyRing(kafka, keks)) as ring:
        ring.catch_up()
        retained = [r for r in read_all(kafka, kafka.topic(PROFILE)) if r.key == b"cand-gone"]
        with pytest.raises(UnreadableError):
            open_profile(default_codec().decode(retained[0].value).record, ring.key)


def test_sdk_erasure_publishes_the_request_and_tombstones_every_key(
    kafka: KafkaSettings, state: ProfileState
) -> None:
    with NurtureProducer(kafka) as first, NurtureProducer(kafka) as second:
        _upsert(first, "cand-e")
        _upsert(second, "cand-e")
        receipt = first.erase("cand-e", reason="gdpr_art17")
        _upsert(first, "cand-other")
    assert receipt.keys_deleted == 2
    assert live_key_names(kafka, "cand-e", timeout_s=30) == []
    tombstones = [r for r in read_all(kafka, kafka.topic(KEYS)) if r.value is None]
    assert len(tombstones) == 2
    state.catch_up()
    assert state.get("cand-e") == ERASED
    subjects = [
        default_codec().decode(r.value).subject
        for r in read_all(kafka, kafka.topic(PROFILE))
        if r.key == b"cand-e"
    ]
    assert subjects[-1] == "erasure_request"


def test_bulk_upsert_sends_keys_first_and_reports_invalid_profiles(
    kafka: KafkaSettings, state: ProfileState
) -> None:
    bad = profile("cand-bad").to_avro() | {"time_zone": "Mars/Olympus_Mons"}
    with NurtureProducer(kafka) as producer:
        result = producer.upsert_profiles([profile("cand-b1"), bad, profile("cand-b2")])
    assert (result.accepted, [r.index for r in result.rejected]) == (2, [1])
    assert result.rejected[0].field == "time_zone"
    assert len(read_all(kafka, kafka.topic(KEYS))) == 2
    state.catch_up()
    for candidate in ("cand-b1", "cand-b2"):
        found = state.get(candidate)
        assert (
            isinstance(found, CandidateProfile)
            and found.contact.email == f"{candidate}@example.org"
        )
    assert state.get("cand-bad") is None
