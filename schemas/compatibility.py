"""Schema evolution rules: is each version compatible with every earlier one of its subject?

The check is Apache Avro's own ``ReaderWriterCompatibilityChecker`` (the Python port of the Java
checker Confluent's registry uses), applied per the subject's level in ``index.json``:

* ``BACKWARD`` - the new schema, as reader, can read data written with every earlier version.
* ``FORWARD``  - every earlier version, as reader, can read data written with the new schema.
* ``FULL``     - both (the default).
* ``NONE``     - not checked.

Levels are always *transitive* (against every earlier version, not just the previous one):
old versions stay in Kafka and in the registry forever and the decoder resolves any of them to
the current reader, so a gap anywhere in the chain would strand old bytes.

Why ``activity_event`` is ``BACKWARD``: a new event type is a new branch of the payload union; new
readers read old data, but a reader without the branch cannot read an event of the new type. So
ship the new registry (and code) to every consumer before any producer emits the new type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas.catalog import Catalog, SchemaVersion, Subject


@dataclass(frozen=True)
class Incompatibility:
    """A reader version that cannot read what a writer version wrote, and Avro's reasons."""

    subject: str
    reader_version: int
    writer_version: int
    messages: tuple[str, ...]
    locations: tuple[str, ...]

    def __str__(self) -> str:
        where = ", ".join(self.locations)
        why = "; ".join(self.messages)
        return (
            f"{self.subject}: v{self.reader_version} cannot read v{self.writer_version} "
            f"data at {where}: {why}"
        )


def can_read(reader: SchemaVersion, writer: SchemaVersion) -> Incompatibility | None:
    """None when ``reader`` can read data written with ``writer``, else why not."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(_avro_schema(reader), _avro_schema(writer))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    return Incompatibility(
        reader.subject,
        reader.version,
        writer.version,
        tuple(sorted(result.messages)),
        tuple(sorted(result.locations)),
    )


def check_subject(subject: Subject) -> list[Incompatibility]:
    """Every violation of ``subject``'s compatibility level, across all pairs of versions."""
    problems: list[Incompatibility] = []
    level = subject.compatibility
    for position, newer in enumerate(subject.versions):
        for older in subject.versions[:position]:
            if level in ("BACKWARD", "FULL"):
                problems.extend(_found(can_read(newer, older)))
            if level in ("FORWARD", "FULL"):
                problems.extend(_found(can_read(older, newer)))
    return problems


def check_catalog(catalog: Catalog) -> list[Incompatibility]:
    """Every compatibility violation in the whole catalog (empty when all is well)."""
    return [problem for s in catalog.subjects.values() for problem in check_subject(s)]


def _found(problem: Incompatibility | None) -> list[Incompatibility]:
    return [] if problem is None else [problem]


def _avro_schema(version: SchemaVersion) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(version.schema))
