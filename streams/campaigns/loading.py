"""Reading campaign files and the policy into a :class:`CampaignSet`, with readable errors.

A definitions folder holds one campaign per ``*.yaml`` file and optionally ``policy.yaml``
(:class:`~streams.campaigns.policy.Policy`). Every problem is reported, not just the first, as
``<file>: campaign <id> step <n> (<step id>): <field>: <reason>``, for example::

    welcome.yaml: campaign welcome-series step 2 (blog-digest): wait: must be a duration like 7d
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from schemas.errors import ConfigError
from streams.campaigns.definitions import Campaign
from streams.campaigns.policy import Policy

#: The campaigns shipped with the package; ``load_campaigns()`` reads them when given no path.
DEFAULT_DEFINITIONS = Path(__file__).with_name("definitions")
POLICY_FILE = "policy.yaml"
#: Discriminator tags pydantic puts into error locations (not fields a person wrote).
_TAGS = {"email", "career_event_invite", "ad_audience", "recruiter_alert", "webhook"}


@dataclass(frozen=True)
class Problem:
    """One reason a definition file is invalid."""

    path: Path
    campaign: str | None
    #: 1-based step number and its id, when the problem is inside a step.
    step: int | None
    step_id: str | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"campaign {self.campaign}" if self.campaign else "policy"
        if self.step is not None:
            where += f" step {self.step}" + (f" ({self.step_id})" if self.step_id else "")
        return f"{self.path.name}: {where}: {self.field + ': ' if self.field else ''}{self.reason}"


class CampaignDefinitionError(ConfigError):
    """Raised by :func:`load_campaigns` when any definition file is invalid; lists every problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class CampaignSet:
    """The loaded campaigns (sorted by id, the order decisions are taken in) and the policy."""

    campaigns: tuple[Campaign, ...]
    policy: Policy = field(default_factory=Policy)

    @cached_property
    def by_id(self) -> Mapping[str, Campaign]:
        return {campaign.id: campaign for campaign in self.campaigns}

    def triggered_by_event(self, event_type: str) -> tuple[Campaign, ...]:
        return tuple(c for c in self.campaigns if event_type in c.trigger.event)

    @cached_property
    def tier_triggered(self) -> tuple[Campaign, ...]:
        return tuple(c for c in self.campaigns if c.trigger.tier is not None)

    @cached_property
    def profile_triggered(self) -> tuple[Campaign, ...]:
        return tuple(c for c in self.campaigns if c.trigger.profile_change)

    @cached_property
    def inactivity_triggered(self) -> tuple[Campaign, ...]:
        return tuple(c for c in self.campaigns if c.trigger.inactivity is not None)


def load_campaigns(path: Path | None = None, *, tiers: Iterable[str] | None = None) -> CampaignSet:
    """Load a definitions folder or one campaign file (``None``: the shipped campaigns).

    ``tiers`` are the tier names campaigns may mention (default: the shipped scoring model's).
    Raises :class:`CampaignDefinitionError` (a ``ConfigError``) listing every problem.
    """
    campaigns, policy, problems = _load(DEFAULT_DEFINITIONS if path is None else path, tiers)
    if problems:
        raise CampaignDefinitionError(problems)
    return CampaignSet(tuple(sorted(campaigns, key=lambda c: c.id)), policy or Policy())


def validate_path(path: Path, *, tiers: Iterable[str] | None = None) -> list[Problem]:
    """Every problem of the definitions at ``path`` (a folder or a file); empty when valid."""
    return _load(path, tiers)[2]


def _load(
    path: Path, tiers: Iterable[str] | None
) -> tuple[list[Campaign], Policy | None, list[Problem]]:
    known_tiers = frozenset(tiers) if tiers is not None else _default_tiers()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        if not files:
            return [], None, [Problem(path, None, None, None, "", "no *.yaml files")]
    else:
        files = [path]
    campaigns: list[Campaign] = []
    files_of: dict[str, Path] = {}
    policy: Policy | None = None
    problems: list[Problem] = []
    for file in files:
        data, error = _read_yaml(file)
        if error is not None:
            problems.append(error)
        elif file.name == POLICY_FILE:
            policy = _validate_policy(file, data, problems)
        else:
            campaign = _validate_campaign(file, data, problems, known_tiers)
            if campaign is None:
                continue
            if campaign.id in files_of:
                reason = f"duplicate campaign id (also in {files_of[campaign.id].name})"
                problems.append(Problem(file, campaign.id, None, None, "id", reason))
                continue
            files_of[campaign.id] = file
            campaigns.append(campaign)
    return campaigns, policy, problems


def _read_yaml(file: Path) -> tuple[Any, Problem | None]:
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8")), None
    except OSError as exc:
        return None, Problem(file, None, None, None, "", f"cannot read: {exc.strerror}")
    except yaml.YAMLError as exc:
        return None, Problem(file, file.stem, None, None, "", f"not valid YAML: {exc}")


def _validate_policy(file: Path, data: Any, problems: list[Problem]) -> Policy | None:
    try:
        return Policy.model_validate(data)
    except PydanticValidationError as exc:
        for error in exc.errors():
            problems.append(Problem(file, None, None, None, _field(error["loc"]), _reason(error)))
    return None


def _validate_campaign(
    file: Path, data: Any, problems: list[Problem], tiers: frozenset[str]
) -> Campaign | None:
    name = file.stem
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        name = data["id"]
    if not isinstance(data, dict):
        problems.append(Problem(file, name, None, None, "", "expected a mapping of settings"))
        return None
    try:
        campaign = Campaign.model_validate(data)
    except PydanticValidationError as exc:
        problems.extend(_problem(file, name, data, error) for error in _useful(exc.errors()))
        return None
    before = len(problems)
    problems.extend(_semantic_problems(file, campaign, tiers))
    return campaign if len(problems) == before else None


def _semantic_problems(file: Path, campaign: Campaign, tiers: frozenset[str]) -> list[Problem]:
    """What the models cannot check alone: unique step ids, tier names of the scoring model."""
    found: list[Problem] = []
    step_ids: set[str] = set()
    for number, step in enumerate(campaign.steps, 1):
        if step.id in step_ids:
            found.append(Problem(file, campaign.id, number, step.id, "id", "duplicate step id"))
        step_ids.add(step.id)
    mentioned = {"conditions.tiers": campaign.conditions.tiers}
    if campaign.trigger.tier is not None:
        mentioned["trigger.tier.to"] = campaign.trigger.tier.to
        mentioned["trigger.tier.from"] = campaign.trigger.tier.from_
    for where, names in mentioned.items():
        for name in names:
            if name not in tiers:
                reason = f"unknown tier {name!r}; known: {', '.join(sorted(tiers))}"
                found.append(Problem(file, campaign.id, None, None, where, reason))
    return found


def _problem(file: Path, name: str, data: dict[str, Any], error: Mapping[str, Any]) -> Problem:
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        index = loc[1]
        steps = data.get("steps")
        raw = steps[index] if isinstance(steps, list) and index < len(steps) else None
        step_id = raw.get("id") if isinstance(raw, dict) else None
        return Problem(
            file,
            name,
            index + 1,
            step_id if isinstance(step_id, str) else None,
            _field(loc[2:]),
            _reason(error),
        )
    return Problem(file, name, None, None, _field(loc), _reason(error))


def _useful(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drop "too short" errors of lists whose items failed: the item errors say it all."""
    failed_inside = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    return [e for e in errors if e["type"] != "too_short" or tuple(e["loc"]) not in failed_inside]


def _field(loc: Sequence[Any]) -> str:
    parts = [
        str(part) for part in loc if part not in _TAGS and not str(part).startswith("function-")
    ]
    return ".".join("from" if part == "from_" else part for part in parts)


_PLAIN = {"missing": "required", "extra_forbidden": "unknown setting"}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", error["msg"]))
    if kind == "union_tag_invalid":
        return f"channel must be one of {', '.join(sorted(_TAGS))}"
    if kind == "literal_error":
        return f"{error['msg'].lower()}, not {error.get('input')!r}"
    if kind == "string_pattern_mismatch":
        return f"{error.get('input')!r} is not a valid name (lowercase letters, digits, - _ .)"
    return _PLAIN.get(kind, str(error["msg"]))


def _default_tiers() -> frozenset[str]:
    from streams.scoring import load_model  # noqa: PLC0415 - only when no tiers are given

    return frozenset(tier.name for tier in load_model().tiers)
