"""docs/configuration.md, generated from the settings models (`nurture config --docs`).

For each model of :data:`~deploy.cli.settings_registry.SETTINGS_MODELS`: who reads it, and per
setting its variable, type (with its bounds), default and description. The description is the
field's own, else the entry of the variable table in its module's docstring. The text depends
on the models only, never on this environment or machine: per-user directories are written as
``<user data dir>`` and ``<user cache dir>``. tests/test_config.py fails when the committed
file differs from what this renders.
"""

from __future__ import annotations

import re
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from platformdirs import user_cache_path, user_data_path
from pydantic import SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode

from deploy.cli.settings_fields import env_var, group_model, groups, is_secret
from deploy.cli.settings_registry import (
    EVERY_PROCESS,
    RETENTION_READERS,
    SDK,
    SETTINGS_MODELS,
    SettingsModel,
)
from schemas.topics import TOPICS, retention_env_var

#: Where the file lives, and how to make it again.
DOC_PATH = Path("docs/configuration.md")
REGENERATE = "make docs (or: nurture config --docs > docs/configuration.md)"
#: The heading of the section on topic retention (not a model).
_RETENTION_TITLE = "Topic retention"
#: The name of candidate-nurture's per-user directories.
_APP = "candidate-nurture"
#: What the models' source paths are relative to (the repository, or site-packages).
_REPOSITORY = Path(__file__).resolve().parents[2]

#: A variable's entry in a module docstring's table: ````NAME``  text``, text going on in the
#: indented lines that follow.
_DOC_ENTRY = re.compile(r"^``(?P<name>NURTURE_[A-Z0-9_]+)``\s+(?P<text>.*)$")
#: An interpreted-text role before a literal, ``:meth:`` in ``:meth:`compression_type```.
_RST_ROLE = re.compile(r":[a-z]+:(?=`)")
_PLAIN_TYPES: dict[object, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "text",
    Path: "path",
    SecretStr: "secret text",
    SecretBytes: "secret bytes",
}
#: Bounds of a field (``Field(ge=1)`` puts an ``annotated_types.Ge`` with ``.ge`` in its
#: metadata), as written in the docs.
_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))

_HEADER = """\
# Configuration reference

<!-- Generated from the settings models by `nurture config --docs`: do not edit by hand.
     After changing a setting run: {regenerate} -->

Every setting of candidate-nurture is a `NURTURE_*` environment variable (some commands have a
flag for a few of them, e.g. `--bootstrap`). Each component reads one frozen pydantic-settings
model, listed below with the processes that read it.

* `nurture config` prints the effective value of every setting in this environment and where it
  came from (secrets masked); `--json` for a program.
* `nurture config --check` validates every setting at once, as each process would at start,
  and prints one line per invalid setting naming its variable (exit status 2; 0 when all are
  valid).

`<user data dir>` in a default is `~/.local/share/candidate-nurture` on Linux
(`$XDG_DATA_HOME/candidate-nurture`) and `~/Library/Application Support/candidate-nurture` on
macOS; `<user cache dir>` is `~/.cache/candidate-nurture` (`$XDG_CACHE_HOME`) and
`~/Library/Caches/candidate-nurture`. A relative path is relative to the working directory of
the process.
"""


def render() -> str:
    """The whole of docs/configuration.md."""
    sections = [_HEADER.format(regenerate=REGENERATE), _contents()]
    sections += [_model_section(entry) for entry in SETTINGS_MODELS]
    sections.append(_retention_section())
    return "\n".join(sections)


def readers_text(readers: tuple[str, ...]) -> str:
    """``("gateway", SDK)`` as "`nurture gateway`, the producer SDK"."""
    names = {EVERY_PROCESS: "every process (each `nurture` command and the producer SDK)"}
    names[SDK] = "the producer SDK (`producers.NurtureProducer`)"
    return ", ".join(names.get(reader, f"`nurture {reader}`") for reader in readers)


def type_text(field: FieldInfo) -> str:
    """The field's type as a person writes its variable, with its bounds (``int, ≥ 1``)."""
    # NoDecode: the model parses the variable's text itself (not as JSON)
    base = "text" if NoDecode in field.metadata else _annotation_text(field.annotation)
    bounds = [
        f"{symbol} {getattr(item, attribute)}"
        for item in field.metadata
        for attribute, symbol in _BOUNDS
        if getattr(item, attribute, None) is not None
    ]
    if any(getattr(item, "min_length", None) == 1 for item in field.metadata):
        bounds.append("not empty")
    return ", ".join([base, *bounds])


def default_text(field: FieldInfo) -> str:
    """The default as a person writes it, machine-independent (see the module docstring)."""
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "unset"
    if is_secret(field):
        return "set"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Path):
        return f"`{_portable_path(value)}`"
    if value in ("", (), [], {}):
        return "empty"
    return f"`{value}`"


def description(model: type[BaseSettings], field_name: str) -> str:
    """The field's description, else its variable's entry in the module docstring; "" if none."""
    field = model.model_fields[field_name]
    if field.description:
        return field.description
    return _docstring_entries(model).get(env_var(model, field_name), "")


def _contents() -> str:
    lines = ["## Contents", ""]
    titles = [entry.title for entry in SETTINGS_MODELS] + [_RETENTION_TITLE]
    lines += [f"* [{title}](#{_anchor(title)})" for title in titles]
    return "\n".join(lines) + "\n"


def _model_section(entry: SettingsModel) -> str:
    model = entry.model
    module = sys.modules[model.__module__]
    source = Path(module.__file__ or "").resolve().relative_to(_REPOSITORY)
    lines = [
        f"## {entry.title}",
        "",
        f"`{model.__name__}` in [`{source.as_posix()}`](../{source.as_posix()}), read by "
        f"{readers_text(entry.readers)}.",
        "",
        *_table(model),
    ]
    for path, group in groups(model):
        summary = (group.__doc__ or "").strip().splitlines()[0]
        lines += [
            "",
            f"### `{'.'.join(path)}`: {summary}",
            "",
            f"`{group.__name__}`, the field `{'.'.join(path)}` of `{model.__name__}`.",
            "",
            *_table(group),
        ]
    return "\n".join(lines) + "\n"


def _table(model: type[BaseSettings]) -> list[str]:
    """The variables of ``model``'s own settings (not its groups'), a row each."""
    lines = ["| variable | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if group_model(field) is not None:
            continue
        cells = (
            f"`{env_var(model, name)}`",
            type_text(field),
            default_text(field),
            _markdown(description(model, name)),
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return lines


def _retention_section() -> str:
    lines = [
        f"## {_RETENTION_TITLE}",
        "",
        "Not a model: `NURTURE_RETENTION_<TOPIC>` overrides a topic's retention in whole days "
        "(`-1`: forever) when the topic is created (`schemas/topics.py`); read by "
        f"{readers_text(RETENTION_READERS)}. Compacted topics keep the latest record of each "
        "key and have none.",
        "",
        "| variable | type | default | topic |",
        "|---|---|---|---|",
    ]
    for spec in TOPICS:
        if spec.retention_days is None:
            continue
        days = "forever" if spec.retention_days < 0 else f"{spec.retention_days} days"
        days = days.removesuffix("s") if spec.retention_days == 1 else days
        lines.append(f"| `{retention_env_var(spec.name)}` | int | {days} | `{spec.name}` |")
    return "\n".join(lines) + "\n"


def _annotation_text(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(_annotation_text(option) for option in options)
    if origin is dict:
        return "JSON object"
    if origin in (list, tuple, set, frozenset):
        return "JSON list"
    return _PLAIN_TYPES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _portable_path(path: Path) -> str:
    text = path.as_posix()
    for base, name in (
        (user_data_path(_APP), "<user data dir>"),
        (user_cache_path(_APP), "<user cache dir>"),
        (Path.home(), "~"),
    ):
        if path.is_absolute() and path.is_relative_to(base):
            return f"{name}/{path.relative_to(base).as_posix()}"
    return text


def _docstring_entries(model: type[BaseSettings]) -> dict[str, str]:
    """``{variable: text}`` of the variable table in the model's module docstring."""
    doc = sys.modules[model.__module__].__doc__ or ""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        found = _DOC_ENTRY.match(line)
        if found is not None:
            current = entries.setdefault(found["name"], [])
            current.append(found["text"].strip())
        elif current is not None and line.startswith(" ") and line.strip():
            current.append(line.strip())
        else:
            current = None
    return {name: " ".join(parts) for name, parts in entries.items()}


def _markdown(text: str) -> str:
    """On one line, reStructuredText literals (````x````, ``:meth:`x```) as Markdown ones, and
    ``<`` ``>`` outside them escaped (``<data_dir>`` would be read as an HTML tag)."""
    text = _RST_ROLE.sub("", text.replace("``", "`"))
    parts = " ".join(text.split()).split("`")
    for index in range(0, len(parts), 2):  # outside the literals
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _anchor(title: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
