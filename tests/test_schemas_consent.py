"""The consent rule (schemas/consent.py) that the campaign engine, delivery and profiles share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.consent import CONSENT_CHANNEL, ConsentView, consent_refusal
from schemas.profile import Consent
from schemas.timestamps import to_micros
from streams.campaigns.policy import Policy

T = datetime(2026, 3, 1, tzinfo=UTC)
GRANTED = to_micros(T)
DAY_US = 86_400_000_000


@pytest.mark.parametrize(
    ("consent", "at_us", "reason"),
    [
        (None, GRANTED, "consent_missing"),
        (ConsentView(False, GRANTED), GRANTED + 1, "consent_missing"),
        (ConsentView(True, GRANTED), GRANTED - 1, "consent_missing"),
        (ConsentView(True, GRANTED), GRANTED, None),
        (ConsentView(True, GRANTED, expires_us=GRANTED + DAY_US), GRANTED + DAY_US - 1, None),
        (
            ConsentView(True, GRANTED, expires_us=GRANTED + DAY_US),
            GRANTED + DAY_US,
            "consent_expired",
        ),
        (ConsentView(True, GRANTED, withdrawn_us=GRANTED + 5), GRANTED + 5, "consent_withdrawn"),
        # withdrawn and expired: the withdrawal is named
        (ConsentView(True, GRANTED, GRANTED + 5, GRANTED + 5), GRANTED + 9, "consent_withdrawn"),
    ],
)
def test_consent_refusal(consent: ConsentView | None, at_us: int, reason: str | None) -> None:
    assert consent_refusal(consent, at_us) == reason


def test_a_profile_consent_reads_the_same_rule() -> None:
    consent = Consent(granted=True, granted_at=T, expires_at=T.replace(month=6))
    assert consent.view() == ConsentView(True, GRANTED, to_micros(T.replace(month=6)))
    assert consent.is_active(T.replace(month=5))
    assert not consent.is_active(T.replace(month=6))


def test_the_campaign_policy_starts_from_the_shared_consent_channels() -> None:
    assert Policy().consent_channels == dict(CONSENT_CHANNEL)
