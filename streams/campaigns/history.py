"""One candidate's records, as the offline simulation takes them (pure).

``nurture campaigns simulate --candidate ID`` (without ``--events``) dry-runs the campaigns over
what the topics hold for one live candidate. :func:`history_records` turns the raw records of
the candidate's partitions into the ``(subject, record)`` pairs of
:func:`streams.campaigns.simulation.simulate`; reading them from Kafka is
:func:`streams.candidate_reader.read_candidate`, outside this package, which touches no Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.codec import Decoded, default_codec
from schemas.errors import SchemaError
from schemas.topics import ACTIVITY, PROFILE

#: Subjects the simulation understands, per source topic (anything else is skipped).
_SUBJECTS = {
    ACTIVITY: frozenset({"activity_event"}),
    PROFILE: frozenset({"candidate_profile", "erasure_request"}),
}


class RecordDecoder(Protocol):
    """What reads a record: a :class:`~schemas.codec.Codec` (single-object frames), or the
    deployment's :class:`~schemas.schema_registry.codec.WireCodec` (in Schema Registry mode
    both framings, per record)."""

    def decode(self, data: bytes) -> Decoded: ...


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of the candidate's partition: its topic (``ACTIVITY`` or ``PROFILE``, the
    unprefixed name), key and value (None: a tombstone)."""

    topic: str
    key: bytes | None
    value: bytes | None


@dataclass
class CandidateHistory:
    """What the topics hold for one candidate, ready for the simulation."""

    candidate_id: str
    #: ``(subject, record)`` pairs in topic order (profiles first, then events); the
    #: simulation sorts them into event-time order itself.
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Records with the candidate's key that did not decode or are of another subject (they
    #: went to the dead-letter topic in the worker too).
    skipped: int = 0
    #: The partition read, per unprefixed topic name.
    partitions: dict[str, int] = field(default_factory=dict)

    def count(self, subject: str) -> int:
        """How many records of ``subject`` were found."""
        return sum(1 for found, _ in self.records if found == subject)


def history_records(
    candidate_id: str, raw: Iterable[RawRecord], codec: RecordDecoder | None = None
) -> CandidateHistory:
    """Decode the records keyed by ``candidate_id`` (others are ignored); pure.

    Tombstones are skipped (compaction's leftovers), and so are records that do not decode,
    are of a subject the topic should not hold, or whose ``candidate_id`` is not their key
    (counted in ``skipped``): the worker dead-letters exactly those.
    """
    codec = codec or default_codec()
    key = candidate_id.encode()
    history = CandidateHistory(candidate_id)
    for record in raw:
        if record.key != key or record.value is None:
            continue
        try:
            decoded = codec.decode(record.value)
        except SchemaError:
            history.skipped += 1
            continue
        wanted = _SUBJECTS.get(record.topic, frozenset())
        if decoded.subject not in wanted or decoded.record.get("candidate_id") != candidate_id:
            history.skipped += 1
            continue
        history.records.append((decoded.subject, decoded.record))
    return history
