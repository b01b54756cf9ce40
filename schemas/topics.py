"""The one declaration of every topic the pipeline uses.

Each :class:`TopicSpec` says who writes and reads the topic, its cleanup policy and retention.
`nurture topics create` makes them (idempotently, reporting conflicts); every client takes names
from here through :meth:`KafkaSettings.topic` so the optional prefix applies everywhere.

Retention can be changed per topic without code: ``NURTURE_RETENTION_<NAME>`` in days, where
``<NAME>`` is the topic name upper-cased with dots as underscores (for example
``NURTURE_RETENTION_CANDIDATE_ACTIVITY=400``); ``-1`` keeps records forever.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from schemas.errors import ConfigError
from schemas.settings import KafkaSettings

CleanupPolicy = Literal["delete", "compact", "compact,delete"]

DAY_MS = 24 * 60 * 60 * 1000

ACTIVITY = "candidate.activity"
ACTIVITY_DLQ = "candidate.activity.dlq"
PROFILE = "candidate.profile"
PROFILE_DLQ = "candidate.profile.dlq"
ENGAGEMENT = "candidate.engagement"
SUPPRESSION = "candidate.suppression"
ACTION = "nurture.action"
ACTION_DLQ = "nurture.action.dlq"
ACTION_RETRY = "nurture.action.retry"
DELIVERY = "nurture.delivery"
KEYS = "candidate.keys"
GATEWAY_ACCEPTED = "nurture.gateway.accepted"


@dataclass(frozen=True)
class TopicSpec:
    """What a topic is for and how Kafka must keep it."""

    name: str
    cleanup_policy: CleanupPolicy
    #: Retention in days; None for compacted topics (kept until compaction), -1 for forever.
    retention_days: int | None
    written_by: str
    read_by: str
    purpose: str
    #: Extra topic configs, e.g. compaction tuning.
    extra_configs: dict[str, str] = field(default_factory=dict)
    #: What the record key is (always a UTF-8 string); records of one key share a partition.
    key: str = "candidate_id"
    #: The Avro subjects (``schemas/registry``) of the values, single-object encoded; empty when
    #: the values are not Avro (docs/asyncapi.yaml describes those).
    subjects: tuple[str, ...] = ()

    def retention_ms(self) -> int | None:
        """Retention in milliseconds after any ``NURTURE_RETENTION_*`` override."""
        variable = retention_env_var(self.name)
        override = os.environ.get(variable)
        try:
            days = int(override) if override else self.retention_days
        except ValueError:
            raise ConfigError(
                f"{variable}: expected whole days (or -1), got {override!r}"
            ) from None
        if days is None:
            return None
        return -1 if days < 0 else days * DAY_MS

    def configs(self) -> dict[str, str]:
        """The topic-level configs to create the topic with (all values as strings)."""
        configs = {"cleanup.policy": self.cleanup_policy, **self.extra_configs}
        retention = self.retention_ms()
        if retention is not None:
            configs["retention.ms"] = str(retention)
        return configs


def retention_env_var(topic_name: str) -> str:
    """The environment variable that overrides a topic's retention (in days)."""
    return "NURTURE_RETENTION_" + topic_name.upper().replace(".", "_")


_COMPACTION = {
    # Compact soon after a key is updated, and keep tombstones a day so consumers see them.
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(DAY_MS),
    "segment.ms": str(DAY_MS),
}

_KEY_COMPACTION = {
    **_COMPACTION,
    # An erased key should leave the disk soon: roll segments hourly and compact within the hour.
    "segment.ms": str(60 * 60 * 1000),
    "max.compaction.lag.ms": str(60 * 60 * 1000),
}

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        ACTIVITY,
        "delete",
        400,
        written_by="SDK, HTTP gateway, `nurture publish`, `nurture simulate`",
        read_by="stream worker (scoring, campaigns), replay",
        purpose="candidate activity events (Avro ActivityEvent), key = candidate_id; kept "
        "400 days so a rebuild can replay more than a year of history",
        subjects=("activity_event",),
    ),
    TopicSpec(
        ACTIVITY_DLQ,
        "delete",
        30,
        written_by="stream worker",
        read_by="`nurture dlq`",
        purpose="activity records that could not be decoded or validated, original bytes, "
        "with headers naming origin topic/partition/offset and the error",
        key="the original record's key (usually candidate_id)",
    ),
    TopicSpec(
        PROFILE,
        "compact",
        None,
        written_by="SDK, HTTP gateway (profile upserts and erasure requests)",
        read_by="stream worker, delivery consumers",
        purpose="latest profile (contact, locale, time zone, interests, consent) or erasure "
        "marker per candidate, key = candidate_id",
        extra_configs=_COMPACTION,
        subjects=("candidate_profile", "erasure_request"),
    ),
    TopicSpec(
        KEYS,
        "compact",
        None,
        written_by="SDK, HTTP gateway (new data keys); `nurture erase`, SDK and gateway erasure "
        "(tombstones)",
        read_by="delivery consumers, `nurture erasure verify`, erasure (finds the keys)",
        purpose="per-candidate data keys that seal profile contacts (crypto-shredding), wrapped "
        "with the key-encryption key, key = <candidate_id>/<key_id>; erasure tombstones them",
        extra_configs=_KEY_COMPACTION,
        key="<candidate_id>/<key_id>",
    ),
    TopicSpec(
        PROFILE_DLQ,
        "delete",
        30,
        written_by="stream worker",
        read_by="`nurture dlq`",
        purpose="profile records that could not be decoded or validated",
        key="the original record's key (usually candidate_id)",
    ),
    TopicSpec(
        ENGAGEMENT,
        "compact",
        None,
        written_by="stream worker",
        read_by="campaigns, dashboards, `nurture score`",
        purpose="latest engagement score, tier and contributions per candidate",
        extra_configs=_COMPACTION,
        subjects=("engagement_record",),
    ),
    TopicSpec(
        SUPPRESSION,
        "compact",
        None,
        written_by="stream worker (when an unsubscribed event changes a candidate's "
        "unsubscribes; tombstone on erasure)",
        read_by="delivery consumers (send-time check)",
        purpose="channels each candidate unsubscribed from and when (Avro "
        "CandidateSuppression, no PII), key = candidate_id; stops actions already decided",
        extra_configs=_COMPACTION,
        subjects=("candidate_suppression",),
    ),
    TopicSpec(
        ACTION,
        "delete",
        30,
        written_by="stream worker (campaigns)",
        read_by="delivery consumers (one group per channel)",
        purpose="nurture actions with deterministic action_id, key = candidate_id",
        subjects=("nurture_action",),
    ),
    TopicSpec(
        ACTION_DLQ,
        "delete",
        30,
        written_by="delivery consumers",
        read_by="`nurture dlq`",
        purpose="actions delivery gave up on (non-retriable or past the retry horizon: recorded "
        "dead_lettered, final) and records it could not decode (nurture-reason schema_error, "
        "e.g. the schema registry was down: nothing recorded; the letter keeps the record's "
        "headers and `nurture dlq redrive` puts it back on the topic it was read from, "
        "nurture.action or nurture.action.retry)",
        key="candidate_id (an undecodable action keeps its original key)",
        subjects=("nurture_action",),
    ),
    TopicSpec(
        ACTION_RETRY,
        "delete",
        7,
        written_by="delivery consumers",
        read_by="delivery consumers (when each record's not-before time has come)",
        purpose="actions waiting for a retry or for the end of quiet hours, with a not-before "
        "header; keeps the action partitions flowing while a receiver is down",
        subjects=("nurture_action",),
    ),
    TopicSpec(
        DELIVERY,
        "delete",
        90,
        written_by="delivery consumers",
        read_by="dashboards, funnel metrics",
        purpose="delivery outcomes (sent, suppressed, failed, dead_lettered) per action_id",
        subjects=("delivery_outcome",),
    ),
    TopicSpec(
        GATEWAY_ACCEPTED,
        "delete",
        1,
        written_by="HTTP gateway (the event ids each request got accepted)",
        read_by="every HTTP gateway process (idempotent retries across processes and restarts)",
        purpose="event ids the gateways accepted, one JSON record per request, key = gateway "
        "instance; kept for the de-duplication window (1 day: keep NURTURE_GATEWAY_DEDUP_WINDOW_S "
        "within it)",
        key="the gateway process's instance id",
    ),
)

TOPICS_BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in TOPICS}


def full_name(spec: TopicSpec, settings: KafkaSettings) -> str:
    """The topic name as created in Kafka (with the settings' prefix)."""
    return settings.topic(spec.name)
