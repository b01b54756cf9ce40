"""Which registry subject each topic's records are registered under (subject name strategies).

* A topic that carries **one** record type uses Confluent's default, **TopicNameStrategy**:
  ``<topic>-value`` with the topic's full name (the ``NURTURE_TOPIC_PREFIX`` included), as a
  Confluent serializer or a Kafka Connect converter with default settings derives it.
* A topic that carries **more than one** record type (``candidate.profile``: profiles and the
  erasure markers that replace them) uses **RecordNameStrategy**: the record's full Avro name
  (``candidate_nurture.CandidateProfile``), since one subject cannot evolve two record types.
  Its clients must set ``value.subject.name.strategy`` to RecordNameStrategy. These subjects
  carry no topic name, so deployments with different prefixes share them in one registry.

Keys are plain UTF-8 text, never Avro: there are no ``-key`` subjects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from schemas.catalog import Catalog, default_catalog
from schemas.errors import ConfigError
from schemas.topics import TOPICS, TOPICS_BY_NAME

SubjectNameStrategy = Literal["TopicNameStrategy", "RecordNameStrategy"]


@dataclass(frozen=True)
class RegistrySubject:
    """Where the records of one catalog subject on one topic are registered."""

    #: Declared topic name, without the prefix (``candidate.activity``).
    topic: str
    #: Catalog subject (``schemas/registry/<subject>``), e.g. ``activity_event``.
    subject: str
    #: The subject in the schema registry, e.g. ``candidate.activity-value``.
    registry_subject: str
    strategy: SubjectNameStrategy


def subject_strategy(topic: str) -> SubjectNameStrategy:
    """RecordNameStrategy for a declared topic with more than one record type, else
    TopicNameStrategy; :class:`ConfigError` for a topic that carries no Avro records."""
    spec = TOPICS_BY_NAME.get(topic)
    if spec is None or not spec.subjects:
        carrying = ", ".join(s.name for s in TOPICS if s.subjects)
        raise ConfigError(f"topic {topic!r} carries no Avro records; those that do: {carrying}")
    return "RecordNameStrategy" if len(spec.subjects) > 1 else "TopicNameStrategy"


def registry_subject(
    topic: str, subject: str, *, topic_prefix: str = "", catalog: Catalog | None = None
) -> str:
    """The registry subject of ``subject``'s records on the declared ``topic`` (see the module
    docstring); :class:`ConfigError` when the topic does not carry that subject."""
    strategy = subject_strategy(topic)
    if subject not in TOPICS_BY_NAME[topic].subjects:
        raise ConfigError(
            f"topic {topic!r} carries {', '.join(TOPICS_BY_NAME[topic].subjects)}, not {subject!r}"
        )
    if strategy == "TopicNameStrategy":
        return f"{topic_prefix}{topic}-value"
    return record_full_name((catalog or default_catalog()).subject(subject).current.schema)


def registry_subjects(
    *, topic_prefix: str = "", catalog: Catalog | None = None
) -> tuple[RegistrySubject, ...]:
    """Every (topic, catalog subject) pair the pipeline writes, with its registry subject, in
    the order the topics are declared (the table in docs/integrations.md)."""
    return tuple(
        RegistrySubject(
            spec.name,
            subject,
            registry_subject(spec.name, subject, topic_prefix=topic_prefix, catalog=catalog),
            subject_strategy(spec.name),
        )
        for spec in TOPICS
        for subject in spec.subjects
    )


def record_full_name(schema: dict[str, object]) -> str:
    """``namespace.Name`` of a record schema (its name alone when it has no namespace)."""
    name = str(schema["name"])
    namespace = schema.get("namespace")
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def schema_text(schema: dict[str, object]) -> str:
    """The schema as registered: the ``.avsc`` JSON (docs and custom properties kept), compact.
    Registries compare schemas by content, so it must be the same text every time."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
