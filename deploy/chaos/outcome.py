"""What a run left in Kafka, read back once its groups have caught up.

The outcome is what the pipeline promises to get right whatever happens to its processes:

* the last record per candidate on ``candidate.engagement`` (score, tier, contributions and the
  last event's id, partition and offset; a tombstone removes the candidate);
* the distinct ``action_id``s on ``nurture.action`` (at-least-once output: a step processed again
  re-emits the same ids, so repeats collapse here and delivery drops them);
* the last record per candidate on ``candidate.suppression`` (None for a tombstone);
* how many records each dead-letter topic holds.

Engagement and actions are read with the same functions as ``nurture replay diff``; every
reader takes the run's codec (Schema Registry mode: both framings, per record).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from schemas.codec import activity_codec, codec_for, default_codec
from schemas.schema_registry.codec import SingleObjectCodec, WireCodec
from schemas.settings import KafkaSettings
from schemas.subject_codec import SubjectCodec
from schemas.topics import (
    ACTION,
    ACTION_DLQ,
    ACTIVITY,
    ACTIVITY_DLQ,
    DELIVERY,
    ENGAGEMENT,
    PROFILE_DLQ,
    SUPPRESSION,
)
from streams.replay.diff import actions_on, latest_engagement
from streams.replay.offsets import OFFSETS_TIMEOUT_S, partitions_of
from streams.replay.reader import read_topic, topic_reader

#: The dead-letter topics a run can write (declared names).
DEAD_LETTER_TOPICS = (ACTIVITY_DLQ, PROFILE_DLQ, ACTION_DLQ)


@dataclass(frozen=True)
class Outcome:
    """One run's outcome (see the module docstring)."""

    engagement: Mapping[str, Mapping[str, Any]]
    #: action id -> (campaign, channel)
    actions: Mapping[str, tuple[str, str]]
    suppression: Mapping[str, Mapping[str, Any] | None]
    #: declared dead-letter topic -> records on it
    dead_letters: Mapping[str, int]

    @property
    def dead_letter_total(self) -> int:
        return sum(self.dead_letters.values())


def read_outcome(kafka: KafkaSettings, wire: WireCodec | None = None) -> Outcome:
    """The outcome on the topics of ``kafka``'s prefix, read with ``wire`` (None:
    single-object frames only)."""
    return Outcome(
        engagement=latest_engagement(kafka, kafka.topic(ENGAGEMENT), wire),
        actions=actions_on(kafka, kafka.topic(ACTION), wire=wire).by_id,
        suppression=latest_suppression(kafka, wire),
        dead_letters={name: record_count(kafka, kafka.topic(name)) for name in DEAD_LETTER_TOPICS},
    )


def _decoder(wire: WireCodec | None, codec: SubjectCodec) -> Callable[[bytes], dict[str, Any]]:
    return (wire or SingleObjectCodec(default_codec())).subject_decoder(codec)


def latest_suppression(
    kafka: KafkaSettings, wire: WireCodec | None = None
) -> dict[str, dict[str, Any] | None]:
    """The last ``candidate.suppression`` record per candidate (None: a tombstone)."""
    decode = _decoder(wire, codec_for("candidate_suppression"))
    latest: dict[str, dict[str, Any] | None] = {}
    with topic_reader(kafka) as reader:
        for record in read_topic(reader, kafka.topic(SUPPRESSION)):
            key = cast("bytes", record.key).decode()  # suppression records are always keyed
            latest[key] = None if record.value is None else decode(record.value)
    return latest


def delivery_outcomes(kafka: KafkaSettings, wire: WireCodec | None = None) -> Counter[str]:
    """Actions per final delivery outcome on ``nurture.delivery`` (``sent``, ``suppressed:
    consent_expired``, ...): the last outcome of each action id counts."""
    decode = _decoder(wire, codec_for("delivery_outcome"))
    last: dict[str, str] = {}
    with topic_reader(kafka) as reader:
        for record in read_topic(reader, kafka.topic(DELIVERY)):
            outcome = decode(cast("bytes", record.value))  # a tombstone: TombstoneError
            reason = outcome.get("reason")
            last[outcome["action_id"]] = (
                outcome["outcome"] if not reason else f"{outcome['outcome']}: {reason}"
            )
    return Counter(last.values())


def activity_event_ids(kafka: KafkaSettings, wire: WireCodec | None = None) -> list[str]:
    """The ``event_id`` of every record on ``candidate.activity``, repeats included."""
    decode = _decoder(wire, activity_codec())
    with topic_reader(kafka) as reader:
        return [
            str(decode(cast("bytes", record.value))["event_id"])  # a tombstone: TombstoneError
            for record in read_topic(reader, kafka.topic(ACTIVITY))
        ]


def record_count(kafka: KafkaSettings, topic: str) -> int:
    """Records currently in ``topic`` (end minus beginning offsets, all partitions)."""
    with topic_reader(kafka) as reader:
        tps = partitions_of(reader, topic)
        ends = reader.end_offsets(tps, OFFSETS_TIMEOUT_S)
        starts = reader.beginning_offsets(tps, OFFSETS_TIMEOUT_S)
        return sum(ends[tp] - starts[tp] for tp in tps)
