"""Which records a replay reads: per partition, the activity and profile offset ranges.

* activity: from ``--from`` (``offsets_for_times``; the beginning without it) to ``--to`` (the
  current end without it, fixed now);
* profile: always from the beginning of the compacted topic (it holds the latest profile and
  consent of each candidate, whatever its age) to the same end time;
* a *warm-up* (shadow runs) reads activity from the beginning too but emits decisions only
  for the window: the state at ``--from`` is then the one the full history gives.
"""

from __future__ import annotations

from schemas.kafka_seam.proto import TopicPartition
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from streams.replay.errors import ReplayError
from streams.replay.offsets import OFFSETS_TIMEOUT_S, PartitionRange, plan_ranges
from streams.replay.reader import topic_reader
from streams.replay.runner import PartitionJob


def plan_jobs(
    kafka: KafkaSettings, *, from_ms: int | None, to_ms: int | None, warm_up: bool
) -> list[PartitionJob]:
    """One job per partition of ``candidate.activity`` (co-partitioned with the profiles)."""
    with topic_reader(kafka) as topics:
        window = plan_ranges(topics, kafka.topic(ACTIVITY), from_ms, to_ms)
        profiles = plan_ranges(topics, kafka.topic(PROFILE), None, to_ms)
        if len(window) != len(profiles):
            raise ReplayError(
                f"{kafka.topic(ACTIVITY)} has {len(window)} partitions but "
                f"{kafka.topic(PROFILE)} {len(profiles)}: they must be co-partitioned"
            )
        first = topics.beginning_offsets(
            [TopicPartition(r.topic, r.partition) for r in window], OFFSETS_TIMEOUT_S
        )
    jobs = []
    for rng, profile in zip(window, profiles, strict=True):
        start = first[TopicPartition(rng.topic, rng.partition)] if warm_up else rng.start
        jobs.append(
            PartitionJob(
                partition=rng.partition,
                activity=PartitionRange(rng.topic, rng.partition, start, rng.end),
                profile=profile,
                window_offset=rng.start,
                window_ms=from_ms if warm_up else None,
            )
        )
    return jobs


def end_offsets(jobs: list[PartitionJob]) -> dict[TopicPartition, int]:
    """Where a consumer continues after these jobs: the end of every range replayed."""
    ends: dict[TopicPartition, int] = {}
    for job in jobs:
        for rng in (job.activity, job.profile):
            ends[TopicPartition(rng.topic, rng.partition)] = rng.end
    return ends
