"""The scoring model: a versioned, validated YAML file (``default_model.yaml`` ships with it).

The file says how much each activity is worth (``weights``, optionally refined by one payload
field in ``payload_weights``), how fast it fades (``half_life_days``, per type in
``half_life_days_by_type``), how many events of a type count per UTC day (``daily_caps``), where the
tiers start (``tiers``) and how far below a threshold a score must fall to drop a tier
(``hysteresis``). ``version`` is stamped on every engagement record; change it whenever the file
changes, because scores already in the state were computed with the old numbers (see
``docs/scoring.md``: a new model means a replay).

Event types are checked against the ``activity_event`` schema in ``schemas/registry``, so a typo in
a type name fails at start-up instead of silently scoring zero.

Invalid files raise :class:`~schemas.errors.ConfigError` at load time, with a message that names
the field, e.g. ``weights.page_viewed: must be >= 0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from schemas.catalog import default_catalog
from schemas.errors import ConfigError
from streams.scoring.rules import CompiledModel, TypeRule

#: The model shipped with the package; ``load_model()`` reads it when no path is given.
DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.yaml")


@lru_cache(maxsize=1)
def activity_payload_fields() -> Mapping[str, frozenset[str]]:
    """Every event type of the current ``activity_event`` schema and the fields of its payload."""
    schema = default_catalog().subject("activity_event").current.schema
    payload = next(field for field in schema["fields"] if field["name"] == "payload")
    return {
        branch["event_type"]: frozenset(field["name"] for field in branch["fields"])
        for branch in payload["type"]
        if isinstance(branch, dict) and "event_type" in branch
    }


def _known_event_type(name: str) -> str:
    known = activity_payload_fields()
    if name not in known:
        raise ValueError(f"unknown event type; known: {', '.join(sorted(known))}")
    return name


#: A dict key that must be an event type of the activity_event schema.
EventType = Annotated[str, AfterValidator(_known_event_type)]
#: A finite weight >= 0 (score points of one fresh event).
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
#: A finite half-life in days, > 0.
HalfLifeDays = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
#: How many events of a type count per UTC day, >= 1.
DailyCap = Annotated[int, Field(ge=1, strict=True)]


class PayloadWeights(BaseModel):
    """Weights that depend on one payload field: ``payload[field]`` looked up in ``weights``.

    A value not in ``weights`` (or a missing field) falls back to the type's base weight.
    Example: page views weighted by ``page_type`` so a job page is worth more than a blog post.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1)
    weights: dict[str, Weight]


class Tier(BaseModel):
    """A tier of the ladder: candidates whose score reaches ``min_score`` are promoted into it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="e.g. 'warm'")
    min_score: float = Field(ge=0, allow_inf_nan=False, strict=True)


class ScoringModel(BaseModel):
    """A validated scoring model. Build it with :func:`load_model`; immutable afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(
        min_length=1, max_length=64, pattern=r"^\S+$", description="Stamped on every output."
    )
    description: str | None = None
    half_life_days: HalfLifeDays = Field(30.0, description="Half-life of every type by default.")
    half_life_days_by_type: dict[EventType, HalfLifeDays] = Field(default_factory=dict)
    weights: dict[EventType, Weight] = Field(
        description="Score points of one fresh event, per type; types not listed weigh 0."
    )
    payload_weights: dict[EventType, PayloadWeights] = Field(default_factory=dict)
    daily_caps: dict[EventType, DailyCap] = Field(
        default_factory=dict,
        description="Most events of a type counted per UTC day (more share that weight); "
        "types not listed are uncapped.",
    )
    tiers: tuple[Tier, ...] = Field(
        description="The tiers, lowest first; the first starts at 0 and thresholds increase."
    )
    hysteresis: float = Field(
        0.2,
        ge=0,
        lt=1,
        strict=True,
        description="A tier is left downwards only below threshold * (1 - hysteresis).",
    )
    horizon_days: int = Field(
        400,
        ge=1,
        le=36_500,
        strict=True,
        description="Events more than this many UTC days older than the newest one are ignored "
        "(the retention of candidate.activity, so a replay rebuilds the same state).",
    )
    recent_ids: int = Field(
        512,
        ge=0,
        le=100_000,
        strict=True,
        description="Event ids remembered per candidate to drop duplicates (0: no check).",
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_increase(cls, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
        if not tiers:
            raise ValueError("give at least one tier")
        if tiers[0].min_score != 0:
            raise ValueError(
                f"the first tier must start at 0 (every candidate starts there), "
                f"not {tiers[0].name} at {tiers[0].min_score}"
            )
        names = [tier.name for tier in tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique: {', '.join(names)}")
        for lower, upper in pairwise(tiers):
            if not upper.min_score > lower.min_score:
                raise ValueError(
                    f"thresholds must increase, but {upper.name} (min_score {upper.min_score}) "
                    f"follows {lower.name} ({lower.min_score})"
                )
        return tiers

    @model_validator(mode="after")
    def _payload_fields_exist(self) -> ScoringModel:
        fields_by_type = activity_payload_fields()
        for event_type, rule in self.payload_weights.items():
            where = f"payload_weights.{event_type}"
            if event_type not in self.weights:
                raise ValueError(
                    f"{where}: give {event_type} a base weight in weights too "
                    "(used when the payload value is not listed)"
                )
            fields = fields_by_type[event_type]
            if rule.field not in fields:
                raise ValueError(
                    f"{where}.field: {rule.field!r} is not a payload field of {event_type} "
                    f"(fields: {', '.join(sorted(fields)) or 'none'})"
                )
        return self

    def half_life_of(self, event_type: str) -> float:
        """Half-life in days of ``event_type`` (its own, else the default)."""
        return self.half_life_days_by_type.get(event_type, self.half_life_days)

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> ScoringModel:
        """A validated copy with ``update`` applied (pydantic's copy would skip validation and
        keep the compiled tables of this model). Raises :class:`ConfigError`."""
        data = self.model_dump()
        data.update(update or {})
        return parse_model(data, source=f"copy of scoring model {self.version}")

    @cached_property
    def compiled(self) -> CompiledModel:
        """The model as plain lookup tables for the hot path (built once per model)."""
        rules: dict[str, TypeRule] = {}
        for event_type, weight in self.weights.items():
            refinement = self.payload_weights.get(event_type)
            rules[event_type] = TypeRule(
                event_type,
                weight=weight,
                half_life_days=self.half_life_of(event_type),
                cap=self.daily_caps.get(event_type, math.inf),
                field=refinement.field if refinement else None,
                weight_by_value=refinement.weights if refinement else {},
            )
        return CompiledModel(
            self.version,
            rules=rules,
            tiers=[(tier.name, tier.min_score) for tier in self.tiers],
            hysteresis=self.hysteresis,
            horizon_days=self.horizon_days,
            recent_ids=self.recent_ids,
        )


def load_model(path: Path | None = None) -> ScoringModel:
    """Read and validate a scoring model file; ``None`` reads the shipped default model.

    Raises :class:`ConfigError` naming the file and the field when the file is missing, is not
    YAML, or breaks a rule of :class:`ScoringModel`.
    """
    path = DEFAULT_MODEL_PATH if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the scoring model: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_model(data, source=str(path))


def parse_model(data: Any, *, source: str = "scoring model") -> ScoringModel:
    """Validate already-parsed model data (a mapping); :class:`ConfigError` names the field."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    try:
        model = ScoringModel.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None
    model.compiled  # noqa: B018 (build the hot-path tables now, not on the first event)
    return model


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``dotted.field: reason`` in plain words."""
    path = ".".join(str(part) for part in error["loc"] if part != "[key]")
    reason = _reason(error)
    return f"{path}: {reason}" if path else reason


#: Plain words for pydantic error types that need no context.
_PLAIN_REASONS = {
    "missing": "required",
    "extra_forbidden": "unknown setting",
    "finite_number": "must be a finite number",
}
#: Pydantic bound errors: comparison shown and the context key holding the bound.
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _reason(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _BOUNDS:
        symbol, key = _BOUNDS[kind]
        return f"must be {symbol} {ctx.get(key):g}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}, not {error.get('input')!r}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in {"float_type", "int_type", "float_parsing", "int_parsing", "int_from_float"}:
        expected = "an integer" if kind.startswith("int") else "a number"
        return f"must be {expected}, not {error.get('input')!r}"
    return _PLAIN_REASONS.get(kind, str(error["msg"]))
