"""The guard policy shared by all campaigns: consent channels, frequency caps, quiet hours.

Read from ``policy.yaml`` next to the campaign files (the shipped one spells out the defaults);
a folder without it uses :class:`Policy`'s defaults. Times of day are in the candidate's own
time zone.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from schemas.consent import CONSENT_CHANNEL
from schemas.models import CHANNELS

Channel = Literal["email", "career_event_invite", "ad_audience", "recruiter_alert", "webhook"]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _minutes_of_day(text: str) -> str:
    if _CLOCK.match(text) is None:
        raise ValueError("must be a time of day like 21:00")
    return text


ClockTime = Annotated[str, AfterValidator(_minutes_of_day)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]


def clock_minutes(text: str) -> int:
    """Minutes after midnight of ``HH:MM``."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class QuietHours(BaseModel):
    """No contact between ``start`` and ``end`` local time (the window may cross midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: ClockTime = "21:00"
    end: ClockTime = "08:00"
    #: Channels that reach the candidate directly and so wait for the window to open.
    channels: tuple[Channel, ...] = ("email", "career_event_invite")


class FrequencyCap(BaseModel):
    """At most ``daily`` sends per local calendar day and ``weekly`` per 7 local days.

    Counted across all campaigns over every channel in ``channels`` (one shared budget).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    channels: tuple[Channel, ...] = Field(min_length=1)
    daily: int | None = Field(None, ge=0)
    weekly: int | None = Field(None, ge=0)


def _default_caps() -> tuple[FrequencyCap, ...]:
    return (
        FrequencyCap(
            name="marketing-email", channels=("email", "career_event_invite"), daily=1, weekly=3
        ),
    )


def _default_consent_channels() -> dict[Channel, str | None]:
    return dict(CONSENT_CHANNEL)


class Policy(BaseModel):
    """Guards applied to every step of every campaign at decision time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Action channel -> the profile consent (and unsubscribe) channel it needs; None: none.
    consent_channels: dict[Channel, str | None] = Field(default_factory=_default_consent_channels)
    caps: tuple[FrequencyCap, ...] = Field(default_factory=_default_caps)
    #: Channels never counted or capped (alerts go to recruiters, not to the candidate).
    cap_exempt_channels: tuple[Channel, ...] = ("recruiter_alert",)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    #: Content language used when none in the candidate's own language matches.
    fallback_language: str | None = Field("en", pattern=r"^[a-z]{2,3}$")
    #: Content ids remembered per candidate so that no item is sent twice.
    remembered_content: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _every_channel(self) -> Policy:
        missing = set(CHANNELS) - set(self.consent_channels)
        if missing:
            raise ValueError(f"consent_channels: missing {', '.join(sorted(missing))}")
        names = [cap.name for cap in self.caps]
        if len(names) != len(set(names)):
            raise ValueError("caps: cap names must be unique")
        return self

    def caps_for(self, channel: str) -> tuple[FrequencyCap, ...]:
        """The caps that count a send on ``channel`` (none for exempt channels)."""
        if channel in self.cap_exempt_channels:
            return ()
        return tuple(cap for cap in self.caps if channel in cap.channels)
