"""Candidate profile and erasure request: the two records of the compacted ``candidate.profile``.

Both are keyed by ``candidate_id``. After compaction the latest value of an erased candidate is
its :class:`ErasureRequest`, not the PII; readers tell the two apart by the schema fingerprint
(``schemas.codec.decode`` returns the subject). All personal data sits in the nested
:class:`Contact` record; producers encrypt it as a whole into ``sealed_contact`` before it
reaches Kafka (crypto-shredding, docs/privacy.md), readers open it with the candidate's key.

Mirrors ``schemas/registry/{candidate_profile,erasure_request}/v<current>.avsc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from schemas.consent import ConsentView, consent_refusal
from schemas.modelbase import (
    AvroModel,
    EmailAddress,
    Locale,
    NonEmptyStr,
    PhoneNumber,
    SnakeName,
    TimeZone,
    UtcDatetime,
)
from schemas.modelbase import validate_model as _validate
from schemas.timestamps import to_micros


class Contact(AvroModel):
    """Personal data (PII) of a candidate; at least an e-mail address or a phone number."""

    email: EmailAddress | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: PhoneNumber | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.email is None and self.phone is None:
            raise ValueError("needs an email or a phone")
        return self


class SealedContact(AvroModel):
    """The :class:`Contact` encrypted with the candidate's data key (``schemas.privacy``).

    Producers fill it (never callers): a v2 profile on the wire has an empty ``contact`` and
    this record; erasure deletes the key, after which it can never be opened.
    """

    key_id: NonEmptyStr
    algorithm: str = "AES-256-GCM"
    nonce: NonEmptyStr
    ciphertext: NonEmptyStr


class Consent(AvroModel):
    """Consent for one channel, valid from ``granted_at`` until it expires or is withdrawn."""

    granted: bool
    granted_at: UtcDatetime
    expires_at: UtcDatetime | None = None
    withdrawn_at: UtcDatetime | None = None

    @field_validator("expires_at", "withdrawn_at")
    @classmethod
    def _after_granted(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        granted_at = info.data.get("granted_at")
        if value is not None and granted_at is not None and value < granted_at:
            raise ValueError("must not be before granted_at")
        return value

    def view(self) -> ConsentView:
        """This consent with its times in epoch µs, as :mod:`schemas.consent` reads it."""
        return ConsentView(
            self.granted,
            to_micros(self.granted_at),
            None if self.expires_at is None else to_micros(self.expires_at),
            None if self.withdrawn_at is None else to_micros(self.withdrawn_at),
        )

    def is_active(self, at: datetime) -> bool:
        """True when contact on this channel is allowed at event time ``at``."""
        return consent_refusal(self.view(), to_micros(at)) is None


class CandidateProfile(AvroModel):
    """The latest known state of a candidate (compacted topic, key ``candidate_id``)."""

    candidate_id: NonEmptyStr
    contact: Contact
    sealed_contact: SealedContact | None = None
    locale: Locale | None = None
    time_zone: TimeZone = "UTC"
    interests: list[NonEmptyStr] = Field(default_factory=list)
    job_families: list[NonEmptyStr] = Field(default_factory=list)
    locations: list[NonEmptyStr] = Field(default_factory=list)
    consents: dict[SnakeName, Consent] = Field(default_factory=dict)
    updated_at: UtcDatetime
    source: NonEmptyStr

    def consent_active(self, channel: str, at: datetime) -> bool:
        """True when the candidate allows ``channel`` at event time ``at`` (no record = no)."""
        consent = self.consents.get(channel)
        return consent is not None and consent.is_active(at)


class ErasureRequest(AvroModel):
    """A request to forget a candidate; replaces the profile on the compacted topic."""

    request_id: NonEmptyStr
    candidate_id: NonEmptyStr
    requested_at: UtcDatetime
    source: NonEmptyStr
    reason: str | None = None


def parse_profile(obj: Mapping[str, Any]) -> CandidateProfile:
    """A candidate profile from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(CandidateProfile, obj)


def parse_erasure_request(obj: Mapping[str, Any]) -> ErasureRequest:
    """An erasure request from its JSON or Avro dict form; ValidationError names the field."""
    return _validate(ErasureRequest, obj)
