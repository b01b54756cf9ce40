"""What a campaign file says: trigger, conditions, steps with waits, exit goals, re-entry.

Pydantic models, frozen; :mod:`streams.campaigns.loading` reads the YAML files into them and turns
validation errors into messages naming the campaign, the step and the field. The format is
documented with examples in ``docs/campaigns.md``; the shipped campaigns are in
``streams/campaigns/definitions/``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas.models import EVENT_TYPES
from streams.campaigns.durations import Duration, parse_duration
from streams.campaigns.policy import Slug

ContentKind = Literal["blog_post", "career_event", "job_opening"]
#: Profile fields whose change can trigger a campaign.
ProfileField = Literal["locale", "time_zone", "interests", "job_families", "locations", "consents"]


def _known_event_type(name: str) -> str:
    if name not in EVENT_TYPES:
        raise ValueError(f"unknown event type {name!r}; known: {', '.join(EVENT_TYPES)}")
    return name


EventType = Annotated[str, AfterValidator(_known_event_type)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


OneOrMany = Annotated[tuple[str, ...], Field(min_length=1)]


class TierTransition(_Strict):
    """Fires when the engagement tier changes into ``to`` (from one of ``from``, if given)."""

    to: OneOrMany
    from_: tuple[str, ...] = Field((), alias="from")

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: _one_or_many(value) for key, value in data.items()}
        return data


class Inactivity(_Strict):
    """Fires once ``after`` has passed without activity (event types in ``ignore`` not counted)."""

    after: Duration
    ignore: tuple[EventType, ...] = ()


class Trigger(_Strict):
    """Exactly one of: an activity event type (or list), a tier transition, a profile change of
    the listed fields, or inactivity."""

    event: tuple[EventType, ...] = ()
    tier: TierTransition | None = None
    profile_change: tuple[ProfileField, ...] = ()
    inactivity: Inactivity | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("event", "profile_change"):
            if key in data:
                data[key] = _one_or_many(data[key])
        if isinstance(data.get("inactivity"), str):
            data["inactivity"] = {"after": data["inactivity"]}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        given = [bool(self.event), self.tier is not None, bool(self.profile_change)]
        given.append(self.inactivity is not None)
        if sum(given) != 1:
            raise ValueError("give exactly one of event, tier, profile_change, inactivity")
        return self


class ContentSpec(_Strict):
    """Which catalog items a step picks (see :mod:`streams.campaigns.personalise`)."""

    kinds: tuple[ContentKind, ...] = Field(min_length=1)
    #: At most this many items.
    count: int = Field(1, ge=1, le=20)
    #: Fewer matching items than this suppresses the step (reason ``no_content``).
    min: int = Field(0, ge=0)
    #: Only items sharing a tag or job family with the candidate (False: any item, best first).
    require_match: bool = True

    @model_validator(mode="after")
    def _min_le_count(self) -> ContentSpec:
        if self.min > self.count:
            raise ValueError("min must not exceed count")
        return self


Params = dict[Annotated[str, Field(min_length=1)], str]
TemplateId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class EmailAction(_Strict):
    channel: Literal["email"]
    template: TemplateId
    content: ContentSpec | None = None
    params: Params = Field(default_factory=dict)


class CareerEventInviteAction(_Strict):
    channel: Literal["career_event_invite"]
    template: TemplateId | None = None
    content: ContentSpec = ContentSpec(kinds=("career_event",), count=1, min=1)
    params: Params = Field(default_factory=dict)

    @model_validator(mode="after")
    def _events_only(self) -> CareerEventInviteAction:
        if set(self.content.kinds) != {"career_event"} or self.content.min < 1:
            raise ValueError("content must pick career_event items with min >= 1")
        return self


class AdAudienceAction(_Strict):
    channel: Literal["ad_audience"]
    audience: Slug
    op: Literal["add", "remove"]


class RecruiterAlertAction(_Strict):
    channel: Literal["recruiter_alert"]
    template: TemplateId | None = None
    params: Params = Field(default_factory=dict)


class WebhookAction(_Strict):
    channel: Literal["webhook"]
    endpoint: Slug
    params: Params = Field(default_factory=dict)


Action = Annotated[
    EmailAction | CareerEventInviteAction | AdAudienceAction | RecruiterAlertAction | WebhookAction,
    Field(discriminator="channel"),
]


class Step(_Strict):
    """One action, ``wait`` after the previous step was due (the first: after entry)."""

    id: Slug
    wait: Duration = 0
    action: Action
    #: Consent channel to check instead of the policy's for this channel; "none": no check.
    consent: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    #: Transactional steps are not counted against or stopped by frequency caps.
    transactional: bool = False


class Conditions(_Strict):
    """Who may enter, checked at entry time (guards are checked again at every step)."""

    tiers: tuple[str, ...] = ()
    consent: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], ...] = ()
    interests_any: tuple[str, ...] = ()
    job_families_any: tuple[str, ...] = ()
    locations_any: tuple[str, ...] = ()
    #: Language (``de``) or full locale (``de-DE``), case-insensitive.
    locales: tuple[str, ...] = ()
    #: Event type -> duration: the candidate did NOT do it within that time before entry.
    not_within: dict[EventType, Duration] = Field(default_factory=dict)
    #: Event type -> duration: the candidate DID do it within that time before entry.
    within: dict[EventType, Duration] = Field(default_factory=dict)
    #: Enter only if the catalog has content matching the candidate (e.g. an upcoming event).
    matching_content: ContentSpec | None = None


class Exit(_Strict):
    """Goals: any of these events ends an enrollment (held actions of it are cancelled)."""

    goals: tuple[EventType, ...] = ()


_REENTRY = re.compile(r"^after\s+(\S+)$")


def _reentry(value: Any) -> Any:
    if value == "never":
        return None
    if isinstance(value, str) and (match := _REENTRY.match(value.strip())):
        try:
            return parse_duration(match.group(1))
        except ValueError:
            pass
    raise ValueError("must be 'never' or 'after <duration>', e.g. 'after 90d' or 'after 12h'")


class Campaign(_Strict):
    """A versioned campaign definition (one YAML file)."""

    id: Slug
    version: int = Field(ge=1, le=2**31 - 1)
    description: str = ""
    trigger: Trigger
    conditions: Conditions = Conditions()
    steps: tuple[Step, ...] = Field(min_length=1)
    exit: Exit = Exit()
    #: ``never`` (None) or ``after 90d``: microseconds after the previous entry.
    reentry: Annotated[int | None, BeforeValidator(_reentry)] = None

    def step_index(self, step_id: str) -> int | None:
        """Position of step ``step_id`` (None when this version has no such step)."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        return None
