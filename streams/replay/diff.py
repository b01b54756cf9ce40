"""`nurture replay diff`: what a shadow run would change compared with live.

Compared, for the candidates and window of the shadow run:

* **tiers**: the last record per candidate on ``candidate.engagement`` vs the sandbox's;
* **scores**: the candidates whose score differs most (candidate ids only, never contact data);
* **actions** per campaign and channel: distinct ``action_id``s on ``nurture.action`` whose
  trigger (candidate and event, or profile change) lies in the window, vs the sandbox's;
* **suppressions** per campaign and reason: the live worker only counts these in its metrics,
  so the live side is recomputed by replaying the same range with the live configuration (the
  determinism test proves such a replay decides what the worker decided).

Live engagement records include everything after ``--to``; with ``--to`` in the past, score and
tier differences then also show what happened since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from schemas.codec import codec_for, default_codec
from schemas.schema_registry.codec import SingleObjectCodec, WireCodec
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ENGAGEMENT
from streams.replay.processing import ReplayOptions, trigger_key
from streams.replay.reader import read_topic, topic_reader
from streams.replay.runner import ConfigFiles, OutputTopics, replay_spec, run_jobs
from streams.replay.shadow import ShadowSummary, plan_shadow, sandbox_topics
from streams.worker.settings import WorkerSettings

Engagement = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ActionSide:
    """Distinct actions of one side: id -> (campaign, channel)."""

    by_id: dict[str, tuple[str, str]]

    def per_campaign_channel(self) -> Counter[tuple[str, str]]:
        return Counter(self.by_id.values())


@dataclass
class ShadowDiff:
    """Differences between live and a shadow run (empty: the shadow changes nothing)."""

    candidates: int
    #: (live tier, shadow tier) -> candidates; live tier None: no live record.
    tier_changes: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    #: (candidate id, live score, shadow score), largest absolute difference first.
    score_changes: list[tuple[str, float | None, float]] = field(default_factory=list)
    #: (campaign, channel) -> (live, shadow) action counts, where they differ or not.
    actions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    only_live: int = 0
    only_shadow: int = 0
    #: (campaign, reason) -> (live, shadow).
    suppressions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return (
            not self.tier_changes
            and not self.score_changes
            and not self.only_live
            and not self.only_shadow
            and all(live == shadow for live, shadow in self.suppressions.values())
        )


def compare(  # noqa: PLR0913, PLR0917 - both sides of three comparisons
    live: Engagement,
    shadow: Engagement,
    live_actions: ActionSide,
    shadow_actions: ActionSide,
    live_suppressed: Counter[tuple[str, str]],
    shadow_suppressed: Counter[tuple[str, str]],
    *,
    top: int = 10,
) -> ShadowDiff:
    """The differences; pure (the tests call it on plain dicts)."""
    diff = ShadowDiff(candidates=len(shadow))
    changes = []
    for cid, record in shadow.items():
        before = live.get(cid)
        if before is None or before["tier"] != record["tier"]:
            diff.tier_changes[(None if before is None else before["tier"], record["tier"])] += 1
        before_score = None if before is None else float(before["score"])
        if before_score is None or before_score != float(record["score"]):
            changes.append((cid, before_score, float(record["score"])))
    changes.sort(key=lambda c: (-abs(c[2] - (c[1] or 0.0)), c[0]))
    diff.score_changes = changes[:top]
    live_counts = live_actions.per_campaign_channel()
    shadow_counts = shadow_actions.per_campaign_channel()
    for key in sorted(set(live_counts) | set(shadow_counts)):
        diff.actions[key] = (live_counts[key], shadow_counts[key])
    diff.only_live = len(live_actions.by_id.keys() - shadow_actions.by_id.keys())
    diff.only_shadow = len(shadow_actions.by_id.keys() - live_actions.by_id.keys())
    for key in sorted(set(live_suppressed) | set(shadow_suppressed)):
        diff.suppressions[key] = (live_suppressed[key], shadow_suppressed[key])
    return diff


def latest_engagement(
    kafka: KafkaSettings, topic: str, wire: WireCodec | None = None
) -> Engagement:
    """The last engagement record per candidate on ``topic`` (tombstones remove it), read
    with ``wire`` (None: single-object frames only; a Confluent codec reads both framings)."""
    decode = _decoder(wire, "engagement_record")
    latest: Engagement = {}
    with topic_reader(kafka) as reader:
        for record in read_topic(reader, topic):
            cid = cast("bytes", record.key).decode()  # engagement records are always keyed
            if record.value is None:
                latest.pop(cid, None)
            else:
                latest[cid] = decode(record.value)
    return latest


def actions_on(
    kafka: KafkaSettings,
    topic: str,
    triggers: set[str] | None = None,
    wire: WireCodec | None = None,
) -> ActionSide:
    """Distinct actions on ``topic`` (only those with a trigger in ``triggers`` when given),
    read with ``wire`` as in :func:`latest_engagement`."""
    decode = _decoder(wire, "nurture_action")
    by_id: dict[str, tuple[str, str]] = {}
    with topic_reader(kafka) as reader:
        for record in read_topic(reader, topic):
            action = decode(cast("bytes", record.value))  # a tombstone: TombstoneError
            if triggers is not None and (
                trigger_key(action["candidate_id"], action["trigger_event_id"]) not in triggers
            ):
                continue
            by_id[action["action_id"]] = (action["campaign_id"], action["channel"])
    return ActionSide(by_id)


def _decoder(wire: WireCodec | None, subject: str) -> Callable[[bytes], dict[str, Any]]:
    return (wire or SingleObjectCodec(default_codec())).subject_decoder(codec_for(subject))


def live_topics(kafka: KafkaSettings) -> tuple[str, str]:
    """The live engagement and action topics (full names)."""
    return kafka.topic(ENGAGEMENT), kafka.topic(ACTION)


def diff_shadow(  # noqa: PLR0913 - the run (processes), the report (top), live's framing
    kafka: KafkaSettings,
    summary: ShadowSummary,
    live: WorkerSettings,
    *,
    processes: int = 1,
    top: int = 10,
    schema_registry: SchemaRegistrySettings | None = None,
) -> ShadowDiff:
    """Compare the shadow run of ``summary`` with live (``live``: the live worker's config,
    ``schema_registry`` the deployment's framing: None or no URL, single-object)."""
    sandbox = sandbox_topics(kafka, summary.name)
    assert sandbox.engagement is not None and sandbox.action is not None
    live_engagement, live_action = live_topics(kafka)
    baseline = replay_spec(
        kafka,
        OutputTopics(engagement=None, action=None),
        live,
        ConfigFiles.of(live),
        ReplayOptions(schema_registry=schema_registry),
    )
    codecs = baseline.codecs()
    jobs = plan_shadow(kafka, summary.from_ms, summary.to_ms)
    recomputed = run_jobs(baseline, jobs, processes=processes, codecs=codecs).counts
    wire = codecs.wire
    return compare(
        latest_engagement(kafka, live_engagement, wire),
        latest_engagement(kafka, sandbox.engagement, wire),
        actions_on(kafka, live_action, summary.triggers, wire),
        actions_on(kafka, sandbox.action, wire=wire),
        recomputed.suppressed,
        summary.counts.suppressed,
        top=top,
    )
