"""The catalog of every published schema version, loaded from ``schemas/registry/``.

Layout (shipped as package data)::

    schemas/registry/index.json              subjects, compatibility levels, fingerprints
    schemas/registry/<subject>/v<N>.avsc     one Avro schema per version, v1, v2, ... forever

Each version is identified on the wire by the CRC-64-AVRO fingerprint of its Parsing Canonical
Form (Avro single-object encoding). ``index.json`` records the fingerprint of every published
version, and loading checks the files against it: if someone edits a published ``vN.avsc`` so that
its canonical form changes, bytes already in Kafka would no longer decode, so that is a
:class:`~schemas.errors.ConfigError` at start-up instead of a silent mis-decode later. The newest
version of a subject is its *current* one: encoders write it and decoders resolve to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import fastavro
from fastavro.schema import SchemaParseException, to_parsing_canonical_form
from fastavro.schema import fingerprint as avro_fingerprint
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from schemas.errors import ConfigError, SchemaError

#: Where the registry files live inside the installed package.
REGISTRY_DIR = Path(__file__).parent / "registry"

#: The subjects of the contract, i.e. the kinds of record that travel through Kafka.
SUBJECTS: tuple[str, ...] = (
    "activity_event",
    "candidate_profile",
    "erasure_request",
    "engagement_record",
    "nurture_action",
    "delivery_outcome",
    "candidate_suppression",
)

#: How a new version must relate to every earlier one (always checked transitively).
#: BACKWARD: the new schema reads data of all earlier ones. FORWARD: all earlier schemas read data
#: of the new one. FULL: both. NONE: no check (use only for a subject nobody reads yet).
CompatibilityLevel = Literal["BACKWARD", "FORWARD", "FULL", "NONE"]

_VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.avsc$")


class _SubjectIndex(BaseModel):
    """One subject's entry in ``index.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compatibility: CompatibilityLevel = "FULL"
    why: str | None = None
    fingerprints: dict[int, str] = Field(default_factory=dict)


class _RegistryIndex(BaseModel):
    """The whole ``index.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    about: str | None = None
    subjects: dict[str, _SubjectIndex]


@dataclass(frozen=True, eq=False)
class SchemaVersion:
    """One published schema: a subject at a version, with its wire fingerprint."""

    subject: str
    version: int
    #: The schema JSON as written in the file (docs and custom properties kept).
    schema: dict[str, Any]
    #: Avro Parsing Canonical Form: what the fingerprint is computed over.
    canonical_form: str
    #: 8 bytes, CRC-64-AVRO of ``canonical_form``, little-endian as on the wire.
    fingerprint: bytes

    def __repr__(self) -> str:
        return f"SchemaVersion({self.subject} v{self.version} {self.fingerprint.hex()})"


@dataclass(frozen=True)
class Subject:
    """All versions of one subject, oldest first, and its compatibility level."""

    name: str
    compatibility: CompatibilityLevel
    versions: tuple[SchemaVersion, ...]

    @property
    def current(self) -> SchemaVersion:
        """The newest version: what encoders write and decoders resolve to."""
        return self.versions[-1]

    def version(self, number: int) -> SchemaVersion:
        """Version ``number`` (1-based); :class:`SchemaError` when it does not exist."""
        if not 1 <= number <= len(self.versions):
            raise SchemaError(f"{self.name} has versions 1..{len(self.versions)}, not {number}")
        return self.versions[number - 1]


@dataclass(frozen=True)
class Catalog:
    """Every subject and version of a registry directory, and the fingerprint lookup table."""

    subjects: Mapping[str, Subject]
    by_fingerprint: Mapping[bytes, SchemaVersion]

    def subject(self, name: str) -> Subject:
        """The subject called ``name``; :class:`SchemaError` naming the known ones otherwise."""
        try:
            return self.subjects[name]
        except KeyError:
            known = ", ".join(self.subjects)
            raise SchemaError(f"unknown subject {name!r}; known subjects: {known}") from None


def fingerprint_of(schema: Any) -> bytes:
    """CRC-64-AVRO fingerprint of ``schema``'s Parsing Canonical Form, as the 8 wire bytes."""
    return bytes.fromhex(avro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def load_catalog(directory: Path = REGISTRY_DIR) -> Catalog:
    """Load and check every schema version under ``directory``.

    Raises :class:`ConfigError` when the index and the files disagree: a subject folder missing
    from the index or the reverse, a gap in the version numbers, a file whose fingerprint differs
    from the recorded one (a published version was edited), a version not yet recorded, or two
    versions with the same canonical form (they could not be told apart on the wire).
    """
    index = _read_index(directory / "index.json")
    folders = {p.name for p in directory.iterdir() if p.is_dir()}
    if folders != set(index.subjects):
        raise ConfigError(
            f"{directory}: subject folders {sorted(folders)} differ from index.json subjects "
            f"{sorted(index.subjects)}"
        )
    subjects: dict[str, Subject] = {}
    by_fingerprint: dict[bytes, SchemaVersion] = {}
    for name, entry in index.subjects.items():
        versions = tuple(
            _load_version(directory / name, name, n) for n in _numbers(directory, name)
        )
        for version in versions:
            _check_recorded(entry, version)
            clash = by_fingerprint.get(version.fingerprint)
            if clash is not None:
                raise ConfigError(
                    f"{version!r} has the same canonical form as {clash!r}; readers could not "
                    "tell them apart (a change of docs or defaults alone is not a new version)"
                )
            by_fingerprint[version.fingerprint] = version
        unknown = set(entry.fingerprints) - {v.version for v in versions}
        if unknown:
            raise ConfigError(f"index.json lists {name} versions {sorted(unknown)} with no file")
        subjects[name] = Subject(name, entry.compatibility, versions)
    return Catalog(subjects, by_fingerprint)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalog shipped with the package, loaded once per process."""
    return load_catalog()


def _read_index(path: Path) -> _RegistryIndex:
    try:
        return _RegistryIndex.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"schema registry index {path} is missing") from None
    except PydanticValidationError as exc:
        raise ConfigError(f"{path} is invalid: {exc}") from None


def _numbers(directory: Path, subject: str) -> list[int]:
    """Version numbers found in a subject folder; they must be exactly 1..N."""
    numbers: list[int] = []
    for path in (directory / subject).iterdir():
        match = _VERSION_FILE.match(path.name)
        if match is None:
            raise ConfigError(f"{path}: registry files must be named v<N>.avsc")
        numbers.append(int(match.group(1)))
    numbers.sort()
    if numbers != list(range(1, len(numbers) + 1)):
        raise ConfigError(f"{directory / subject}: versions {numbers} must be 1..N without gaps")
    return numbers


def _load_version(folder: Path, subject: str, number: int) -> SchemaVersion:
    path = folder / f"v{number}.avsc"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        fastavro.parse_schema(schema)  # validates names, types and defaults
    except (ValueError, SchemaParseException) as exc:
        raise ConfigError(f"{path} is not a valid Avro schema: {exc}") from exc
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise ConfigError(f"{path}: the top level of a subject's schema must be a record")
    canonical = str(to_parsing_canonical_form(schema))
    return SchemaVersion(subject, number, schema, canonical, fingerprint_of(schema))


def _check_recorded(entry: _SubjectIndex, version: SchemaVersion) -> None:
    computed = version.fingerprint.hex()
    recorded = entry.fingerprints.get(version.version)
    if recorded is None:
        raise ConfigError(
            f"{version.subject} v{version.version} is not recorded in schemas/registry/index.json;"
            f' add "{version.version}": "{computed}" to its fingerprints once the version is final'
        )
    if recorded.lower() != computed:
        raise ConfigError(
            f"{version.subject} v{version.version} has fingerprint {computed} but index.json "
            f"records {recorded}: a published version was edited. Restore it and add a new "
            "version instead (old bytes in Kafka need the old schema)."
        )
