"""PUT /v1/candidates/{id}/profile and DELETE /v1/candidates/{id}: records on candidate.profile."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.settings import KafkaSettings
from schemas.topics import PROFILE
from tests.test_gateway_support import auth, decoded, records_on, running_gateway

pytestmark = pytest.mark.kafka

PROFILE_BODY = {
    "contact": {"email": "ada@example.com", "first_name": "Ada"},
    "locale": "en-gb",
    "time_zone": "Europe/Berlin",
    "interests": ["backend"],
    "consents": {"email": {"granted": True, "granted_at": "2025-01-01T00:00:00Z"}},
    "updated_at": "2025-03-01T09:30:00Z",
}


def test_profile_upsert_lands_on_the_profile_topic(kafka: KafkaSettings) -> None:
    with running_gateway(kafka) as client:
        response = client.put("/v1/candidates/cand-7/profile", json=PROFILE_BODY, headers=auth())
    assert response.status_code == 202, response.text
    assert response.json()["record"] == "candidate_profile"
    assert response.json()["candidate_id"] == "cand-7"
    [record] = records_on(kafka, PROFILE)
    assert record.key == b"cand-7"
    [found] = decoded(kafka, PROFILE)
    assert found.subject == "candidate_profile"
    profile = found.record
    assert profile["candidate_id"] == "cand-7"
    assert profile["source"] == "career-site"
    assert profile["locale"] == "en-GB"
    # The contact is sealed with the candidate's data key (docs/privacy.md).
    assert profile["contact"]["email"] is None and profile["sealed_contact"] is not None
    assert b"ada@example.com" not in record.value
    assert profile["consents"]["email"]["granted_at"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert profile["updated_at"] == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**PROFILE_BODY, "contact": {"email": "not-an-address"}}, "contact.email"),
        ({**PROFILE_BODY, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**PROFILE_BODY, "candidate_id": "someone-else"}, "candidate_id"),
        ({**PROFILE_BODY, "shoe_size": 44}, "shoe_size"),
        ([1, 2], "(record)"),
        # year 0 in UTC: was a 500 (schemathesis, CI at stop 22)
        ({**PROFILE_BODY, "updated_at": "0001-01-01T00:00:01+00:01"}, "updated_at"),
    ],
)
def test_invalid_profile_is_422_naming_the_field(
    kafka: KafkaSettings, body: object, field: str
) -> None:
    with running_gateway(kafka) as client:
        response = client.put("/v1/candidates/cand-7/profile", json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert "not-an-address" not in response.json()["errors"][0]["reason"]
    assert records_on(kafka, PROFILE) == []


def test_profile_refusals(kafka: KafkaSettings) -> None:
    with running_gateway(kafka) as client:
        wrong_type = client.put(
            "/v1/candidates/c/profile",
            content=b"{}",
            headers={"content-type": "text/csv", **auth()},
        )
        other_source = client.put(
            "/v1/candidates/c/profile", json={**PROFILE_BODY, "source": "ats"}, headers=auth()
        )
        no_key = client.put("/v1/candidates/c/profile", json=PROFILE_BODY)
        too_big = client.put(
            "/v1/candidates/c/profile",
            json={**PROFILE_BODY, "interests": ["x" * 100] * 400},
            headers=auth(),
        )
    assert wrong_type.status_code == 415
    assert other_source.status_code == 403
    assert no_key.status_code == 401
    assert too_big.status_code == 413 and too_big.json()["limit"] == "max_event_bytes"
    assert records_on(kafka, PROFILE) == []


def test_delete_publishes_an_erasure_request_under_the_candidate_key(kafka: KafkaSettings) -> None:
    with running_gateway(kafka) as client:
        client.put("/v1/candidates/cand-9/profile", json=PROFILE_BODY, headers=auth())
        response = client.delete("/v1/candidates/cand-9?reason=gdpr_art17", headers=auth())
        unauthenticated = client.delete("/v1/candidates/cand-9")
    assert response.status_code == 202, response.text
    assert unauthenticated.status_code == 401
    body = response.json()
    assert body["record"] == "erasure_request"
    records = records_on(kafka, PROFILE)
    assert [r.key for r in records] == [b"cand-9", b"cand-9"]
    profile, erasure = decoded(kafka, PROFILE)
    assert (profile.subject, erasure.subject) == ("candidate_profile", "erasure_request")
    assert erasure.record["request_id"] == body["record_id"]
    assert erasure.record["candidate_id"] == "cand-9"
    assert erasure.record["reason"] == "gdpr_art17"
    assert erasure.record["source"] == "career-site"
