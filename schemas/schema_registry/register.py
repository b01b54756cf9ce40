"""Registering the catalog in a schema registry (`nurture schemas register`): every registry
subject gets the project's compatibility level, then each version of its catalog subject, oldest
first, so the registry checks each one against the earlier ones as CI already did.

Idempotent: a level already set and versions already registered are left alone, and the steps
say so. A version the registry refuses (incompatible with what the subject holds) raises
:class:`~schemas.errors.SchemaRegistryRefusedError` naming the subject; the versions before it
stay registered (registries cannot take a batch back), which a re-run after the fix continues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from schemas.catalog import Catalog, CompatibilityLevel, Subject
from schemas.errors import SchemaRegistryRefusedError
from schemas.schema_registry.subjects import RegistrySubject, registry_subjects, schema_text

#: The registry's level for each of the project's: the project's are always transitive
#: (schemas/compatibility.py), the registry's only with the suffix.
REGISTRY_LEVEL: dict[CompatibilityLevel, str] = {
    "BACKWARD": "BACKWARD_TRANSITIVE",
    "FORWARD": "FORWARD_TRANSITIVE",
    "FULL": "FULL_TRANSITIVE",
    "NONE": "NONE",
}

Outcome = Literal["unchanged", "registered", "set", "would register", "would set", "refused"]


class RegistryApi(Protocol):
    """The calls registration makes (:class:`~.client.SchemaRegistryClient`)."""

    def lookup(self, subject: str, schema: str) -> int | None: ...
    def register(self, subject: str, schema: str) -> int: ...
    def compatibility(self, subject: str) -> str | None: ...
    def set_compatibility(self, subject: str, level: str) -> None: ...
    def is_compatible(self, subject: str, schema: str) -> bool: ...


@dataclass(frozen=True)
class Step:
    """One thing registration did (or, in a dry run, would do) to one registry subject."""

    registry_subject: str
    outcome: Outcome
    #: ``compatibility FULL_TRANSITIVE`` or ``engagement_record v1``.
    what: str
    #: The schema id of a version (None for a compatibility level, or not registered yet).
    schema_id: int | None = None
    #: What it was before (a compatibility level), when that is worth saying.
    before: str | None = None

    @property
    def changed(self) -> bool:
        return self.outcome in ("registered", "set")

    def __str__(self) -> str:
        detail = f" (id {self.schema_id})" if self.schema_id is not None else ""
        if self.before is not None:
            detail = f" (was {self.before})"
        return f"{self.registry_subject}: {self.what} {self.outcome}{detail}"


def register_catalog(
    api: RegistryApi,
    catalog: Catalog,
    *,
    topic_prefix: str = "",
    dry_run: bool = False,
    on_step: Callable[[Step], None] = lambda step: None,
) -> list[Step]:
    """Register every version of every (topic, subject) of ``catalog`` under its registry
    subject (:func:`~.subjects.registry_subjects`), calling ``on_step`` as each step is done.
    In a dry run nothing is changed and each missing version is only tested
    (``would register``, or ``refused`` when the registry says it is incompatible)."""
    steps: list[Step] = []
    for target in _distinct(registry_subjects(topic_prefix=topic_prefix, catalog=catalog)):
        subject = catalog.subject(target.subject)
        for step in _register_subject(api, target.registry_subject, subject, dry_run=dry_run):
            steps.append(step)
            on_step(step)
    return steps


def _register_subject(
    api: RegistryApi, where: str, subject: Subject, *, dry_run: bool
) -> Iterator[Step]:
    level = REGISTRY_LEVEL[subject.compatibility]
    current = api.compatibility(where)
    what = f"compatibility {level}"
    if current == level:
        yield Step(where, "unchanged", what)
    elif dry_run:
        yield Step(where, "would set", what, before=current or "unset")
    else:
        api.set_compatibility(where, level)
        yield Step(where, "set", what, before=current or "unset")
    for version in subject.versions:
        text = schema_text(version.schema)
        what = f"{subject.name} v{version.version}"
        schema_id = api.lookup(where, text)
        if schema_id is not None:
            yield Step(where, "unchanged", what, schema_id)
        elif dry_run:
            yield Step(
                where, "would register" if api.is_compatible(where, text) else "refused", what
            )
        else:
            try:
                schema_id = api.register(where, text)
            except SchemaRegistryRefusedError as exc:
                detail = f"{what} {'is incompatible' if exc.incompatible else 'refused'}: "
                raise SchemaRegistryRefusedError(
                    where, exc.status, exc.error_code, detail + exc.detail
                ) from None
            yield Step(where, "registered", what, schema_id)


def _distinct(targets: tuple[RegistrySubject, ...]) -> Iterator[RegistrySubject]:
    """Each registry subject once (RecordNameStrategy subjects are the same for every topic)."""
    seen: set[str] = set()
    for target in targets:
        if target.registry_subject not in seen:
            seen.add(target.registry_subject)
            yield target
