"""The content catalog: blog posts, career events and job openings that e-mails can feature.

One YAML file per kind (``kind: blog_post`` and a list of ``items``), shipped in
``streams/campaigns/catalog/``. Each item has an id (unique across the catalog), a title, a URL,
a language, tags (matched against the candidate's interests), job families, locations (empty:
anywhere) and dates: ``published_at`` (not shown before), ``expires_at`` (not shown from then
on), and for career events ``starts_at`` (only upcoming events are shown); a job opening's
``closes_at`` works like ``expires_at``. Times are epoch microseconds once loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from schemas.errors import ConfigError
from schemas.modelbase import HttpUrl, NonEmptyStr, UtcDatetime
from schemas.timestamps import to_micros
from streams.campaigns.definitions import ContentKind
from streams.campaigns.policy import Slug

#: The catalog shipped with the package; ``load_catalog()`` reads it when given no path.
DEFAULT_CATALOG = Path(__file__).with_name("catalog")
#: Stands for "no end" in the loaded items.
NEVER = 2**63 - 1


class _ItemModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: NonEmptyStr
    url: HttpUrl
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    tags: tuple[str, ...] = ()
    job_families: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    published_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    starts_at: UtcDatetime | None = None
    closes_at: UtcDatetime | None = None


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ContentKind
    items: tuple[dict[str, Any], ...]

    @model_validator(mode="after")
    def _not_empty(self) -> _FileModel:
        if not self.items:
            raise ValueError("items: at least one item")
        return self


@dataclass(frozen=True, slots=True)
class ContentItem:
    """One catalog item, ready for matching (lowercase tags, times in epoch µs)."""

    content_id: str
    kind: str
    title: str
    url: str
    language: str
    tags: frozenset[str]
    job_families: frozenset[str]
    locations: frozenset[str]
    published_us: int
    #: First instant the item must no longer be chosen (NEVER: no end).
    ends_us: int
    #: Start of a career event (None for other kinds).
    starts_us: int | None

    def live_at(self, at_us: int) -> bool:
        """Published, not expired and (for events) not yet started at ``at_us``."""
        return self.published_us <= at_us < self.ends_us

    def choice(self) -> dict[str, Any]:
        """The ``ContentChoice`` of this item in JSON-safe form (``starts_at`` in epoch µs)."""
        return {
            "content_id": self.content_id,
            "kind": self.kind,
            "title": self.title,
            "url": self.url,
            "starts_at": self.starts_us,
        }


@dataclass(frozen=True)
class ContentCatalog:
    """Every content item, grouped by kind in id order (the order makes picks deterministic)."""

    items: tuple[ContentItem, ...]
    by_kind: Mapping[str, tuple[ContentItem, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_kind: dict[str, list[ContentItem]] = {}
        for item in sorted(self.items, key=lambda i: i.content_id):
            by_kind.setdefault(item.kind, []).append(item)
        object.__setattr__(self, "by_kind", {k: tuple(v) for k, v in by_kind.items()})

    def of_kind(self, kind: str) -> tuple[ContentItem, ...]:
        """The items of ``kind`` in content id order."""
        return self.by_kind.get(kind, ())


def load_catalog(path: Path | None = None) -> ContentCatalog:
    """Load a catalog folder (every ``*.yaml``) or one file; ``None``: the shipped catalog.

    Raises :class:`ConfigError` listing every problem as ``<file> item <n> (<id>): <field>:
    <reason>``.
    """
    path = DEFAULT_CATALOG if path is None else path
    files = sorted(p for p in path.glob("*.y*ml")) if path.is_dir() else [path]
    problems: list[str] = []
    items: list[ContentItem] = []
    for file in files:
        items.extend(_load_file(file, problems))
    if not files:
        problems.append(f"{path}: no *.yaml catalog files")
    seen: set[str] = set()
    for item in items:
        if item.content_id in seen:
            problems.append(f"content id {item.content_id!r} appears more than once")
        seen.add(item.content_id)
    if problems:
        raise ConfigError("invalid content catalog:\n" + "\n".join(problems))
    return ContentCatalog(tuple(items))


def _load_file(file: Path, problems: list[str]) -> Iterable[ContentItem]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        parsed = _FileModel.model_validate(data)
    except OSError as exc:
        problems.append(f"{file.name}: cannot read: {exc.strerror}")
        return []
    except yaml.YAMLError as exc:
        problems.append(f"{file.name}: not valid YAML: {exc}")
        return []
    except PydanticValidationError as exc:
        problems.extend(f"{file.name}: {_where(err['loc'])}{err['msg']}" for err in exc.errors())
        return []
    items = []
    for number, raw in enumerate(parsed.items, 1):
        label = f"{file.name} item {number} ({raw.get('id', '?')})"
        try:
            model = _ItemModel.model_validate(raw)
        except PydanticValidationError as exc:
            problems.extend(f"{label}: {_where(err['loc'])}{_msg(err)}" for err in exc.errors())
            continue
        item, problem = _compile(parsed.kind, model)
        if problem:
            problems.append(f"{label}: {problem}")
        else:
            items.append(item)
    return items


def _compile(kind: str, model: _ItemModel) -> tuple[ContentItem, str | None]:
    ends = [t for t in (model.expires_at, model.closes_at, model.starts_at) if t is not None]
    item = ContentItem(
        content_id=model.id,
        kind=kind,
        title=model.title,
        url=model.url,
        language=model.language,
        tags=_lower(model.tags),
        job_families=_lower(model.job_families),
        locations=_lower(model.locations),
        published_us=-NEVER if model.published_at is None else to_micros(model.published_at),
        ends_us=min((to_micros(t) for t in ends), default=NEVER),
        starts_us=None if model.starts_at is None else to_micros(model.starts_at),
    )
    if kind == "career_event" and model.starts_at is None:
        return item, "starts_at: required for a career_event"
    if kind != "career_event" and model.starts_at is not None:
        return item, "starts_at: only career events have one"
    if kind != "job_opening" and model.closes_at is not None:
        return item, "closes_at: only job openings have one"
    if item.published_us >= item.ends_us:
        return item, "published_at: must be before the item ends (expires/closes/starts)"
    return item, None


def _lower(values: Sequence[str]) -> frozenset[str]:
    return frozenset(value.strip().lower() for value in values)


def _where(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) + ": " if loc else ""


def _msg(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "unknown setting"
    return str(error["msg"])
