"""Pure parts of replay: times, the replay order, counts, the diff, and batching invariance."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from schemas.codec import activity_codec, codec_for, encode
from streams.bench.loadgen import START, LoadSpec, activity_events, candidate_id
from streams.campaigns import load_campaigns, load_catalog
from streams.campaigns.engine import Engine
from streams.replay.counts import ReplayCounts
from streams.replay.diff import ActionSide, compare
from streams.replay.errors import TimeFormatError
from streams.replay.processing import ReplayOptions, ReplayProcessor, Topics
from streams.replay.reader import merged
from streams.replay.times import format_time, parse_time
from streams.scoring.config import load_model
from streams.worker.erasure import ErasureMarks
from tests.replay_support import profile


@dataclass(frozen=True)
class Record:
    """What the replay reads of a Kafka record."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes], ...] = ()
    topic: str = "candidate.activity"


def test_parse_time_forms() -> None:
    assert parse_time("2026-11-01T09:30:00Z") == 1_793_525_400_000
    assert parse_time("2026-11-01T10:30:00+01:00") == 1_793_525_400_000
    assert parse_time("2026-11-01T09:30:00") == 1_793_525_400_000  # no zone: UTC
    assert parse_time("2026-11-01") == 1_793_491_200_000
    assert parse_time("1793525400000") == 1_793_525_400_000
    assert format_time(1_793_525_400_000).startswith("2026-11-01T09:30:00.000")
    for bad in ("yesterday", "1793525400", "2026-13-01"):
        with pytest.raises(TimeFormatError):
            parse_time(bad)


def test_profiles_go_before_activity_of_the_same_or_a_later_time() -> None:
    def rec(offset: int, ts: int) -> Record:
        return Record(0, offset, b"k", b"", ts)

    profiles = [rec(0, 100), rec(1, 250), rec(2, 900)]
    activity = [rec(0, 50), rec(1, 100), rec(2, 200), rec(3, 300)]
    order = [(src, r.timestamp) for src, r in merged(profiles, activity)]
    assert order == [
        ("activity", 50),
        ("profile", 100),
        ("activity", 100),
        ("activity", 200),
        ("profile", 250),
        ("activity", 300),
        ("profile", 900),
    ]


def test_counts_subtract_and_survive_json() -> None:
    before = ReplayCounts(scored=2, emitted=Counter({("welcome", "email"): 1}))
    after = ReplayCounts(
        records=9,
        scored=7,
        emitted=Counter({("welcome", "email"): 3}),
        suppressed=Counter({("welcome", "consent_missing"): 2}),
    )
    window = after.minus(before)
    assert (window.scored, window.emitted, window.suppressed) == (
        5,
        Counter({("welcome", "email"): 2}),
        Counter({("welcome", "consent_missing"): 2}),
    )
    assert ReplayCounts.from_dict(window.to_dict()) == window


def _record(cid: str, tier: str, score: float) -> dict[str, Any]:
    return {"candidate_id": cid, "tier": tier, "score": score}


def test_diff_is_empty_for_equal_sides_and_names_what_changed() -> None:
    live = {"a": _record("a", "warm", 10.0), "b": _record("b", "hot", 50.0)}
    actions = ActionSide({"id-1": ("welcome", "email")})
    suppressed = Counter({("welcome", "consent_missing"): 1})
    same = compare(live, dict(live), actions, actions, suppressed, suppressed.copy())
    assert same.empty

    shadow = {"a": _record("a", "hot", 45.0), "b": _record("b", "hot", 50.5)}
    changed = compare(
        live,
        shadow,
        actions,
        ActionSide({"id-1": ("welcome", "email"), "id-2": ("hot", "recruiter_alert")}),
        suppressed,
        Counter(),
        top=1,
    )
    assert not changed.empty
    assert changed.tier_changes == Counter({("warm", "hot"): 1})
    assert changed.score_changes == [("a", 10.0, 45.0)]  # the largest change only (top=1)
    assert changed.actions[("hot", "recruiter_alert")] == (0, 1)
    assert (changed.only_live, changed.only_shadow) == (0, 1)
    assert changed.suppressions[("welcome", "consent_missing")] == (1, 0)


TOPICS = Topics(
    activity="candidate.activity",
    profile="candidate.profile",
    changelog="changelog",
    engagement="candidate.engagement",
    action="nurture.action",
    activity_dlq="candidate.activity.dlq",
    profile_dlq="candidate.profile.dlq",
    suppression="candidate.suppression",
    partitions={
        "candidate.suppression": 1,
        "changelog": 1,
        "candidate.engagement": 1,
        "nurture.action": 1,
        "candidate.activity.dlq": 1,
        "candidate.profile.dlq": 1,
    },
)


def _one_day_records(candidates: int) -> list[tuple[str, Record]]:
    """Profiles then events of one working day (no campaign timer comes due), one partition."""
    ids = [candidate_id(i, "unit") for i in range(candidates)]
    base_ms = int(START.timestamp() * 1000)
    records: list[tuple[str, Record]] = [
        (
            "profile",
            Record(
                0,
                n,
                cid.encode(),
                encode("candidate_profile", profile(cid, email_consent=n % 2 == 0)),
                base_ms,
            ),
        )
        for n, cid in enumerate(ids)
    ]
    encode_activity = activity_codec().encode
    for n, event in enumerate(
        activity_events(LoadSpec(events=1_500, candidates=candidates, run="unit"))
    ):
        number = int(event["event_id"].rsplit("-", 1)[1])
        moved = {**event, "occurred_at": START + timedelta(seconds=60 + (number * 7_919) % 25_000)}
        value = encode_activity(moved)
        records.append(
            ("activity", Record(0, n, moved["candidate_id"].encode(), value, base_ms + 1 + n))
        )
    records.append(("activity", Record(0, 10_000, b"bad", b"not avro", base_ms + 99_999)))
    return records


def _replay(records: list[tuple[str, Record]], batch: int) -> ReplayProcessor:
    model = load_model()
    engine = Engine(load_campaigns(tiers=[t.name for t in model.tiers]), load_catalog())
    processor = ReplayProcessor(
        model, engine, TOPICS, ErasureMarks(b"k" * 32), ReplayOptions(batch=batch)
    )
    for source, record in records:
        processor.add(source, record, emit=True)
    processor.flush()
    return processor


def _by_candidate(actions: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return sorted(actions, key=lambda kv: kv[0])  # stable: each candidate's order is kept


def test_batch_size_does_not_change_what_a_replay_produces() -> None:
    records = _one_day_records(25)
    one = _replay(records, batch=1)
    many = _replay(records, batch=1_000)
    assert one.changelog == many.changelog
    assert one.engagement == many.engagement
    assert one.suppression == many.suppression
    decode = codec_for("candidate_suppression").decode
    unsubscribed = [decode(value)["unsubscribed"] for value in many.suppression.values() if value]
    assert unsubscribed and all(unsubscribed), "the load's unsubscribes, one record each"
    # Per candidate in the same order (across candidates a batch groups them differently).
    assert _by_candidate(one.take_actions()) == _by_candidate(many.take_actions())
    counts = many.counts
    assert counts.records == len(records)
    assert counts.dead_lettered == 1
    assert counts.scored > 0 and counts.duplicates > 0
    assert sum(counts.emitted.values()) > 0
    assert counts.suppressed  # candidates without e-mail consent


def test_replayed_actions_are_marked_and_warm_up_emits_nothing() -> None:
    records = _one_day_records(10)
    processor = _replay(records, batch=100)
    decode = codec_for("nurture_action").decode
    actions = [decode(value) for _, value in processor.take_actions()]
    assert actions and all(a["replay"] for a in actions)

    model = load_model()
    engine = Engine(load_campaigns(tiers=[t.name for t in model.tiers]), load_catalog())
    warm = ReplayProcessor(model, engine, TOPICS, ErasureMarks(b"k" * 32))
    for source, record in records:
        warm.add(source, record, emit=False)
    warm.flush()
    assert warm.take_actions() == []
    assert warm.counts.emitted == Counter()
    assert warm.changelog == processor.changelog  # the same state, only nothing emitted
