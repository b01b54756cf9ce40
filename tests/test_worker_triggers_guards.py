"""Campaign triggers and guards in the worker against the real broker (the last of issue #5).

Tier transitions (scored with the shipped model), profile changes, consent missing / expired /
withdrawn mid-sequence, frequency caps shared by two campaigns, and personalisation from a test
catalog. Each test runs one worker with its own campaign files on the *stream clock*
(tests/campaign_worker_support.py): time moves when a clock candidate's events are published
on the same partition, so outcomes do not depend on today's date. Assertions are on the
published ``nurture.action`` records and the worker's ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from schemas.settings import KafkaSettings
from schemas.timestamps import to_micros
from streams.campaigns import load_catalog
from streams.campaigns.loading import DEFAULT_DEFINITIONS
from tests.campaign_worker_support import (
    T0,
    TimerRun,
    applications_to_hot,
    consent,
    event_record,
    ids_on_partition,
    profile_record,
)
from tests.kafka_helpers import unique

pytestmark = pytest.mark.kafka

#: The shipped guard policy: e-mail needs `email` consent, `ad_audience` needs `ads`; one
#: marketing e-mail per local day and three per 7 days; quiet hours 21:00-08:00.
POLICY = (DEFAULT_DEFINITIONS / "policy.yaml").read_text()
SUPPRESSED = "nurture_actions_suppressed_total"

INTERESTS_CHANGED = """
id: interests-changed
version: 1
trigger: {profile_change: [interests]}
steps:
  - id: picks
    action:
      channel: email
      template: new-interests
      content: {kinds: [blog_post], count: 1, min: 1}
"""

TWO_STEPS = """
id: nurture
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: one
    action: {channel: email, template: welcome-talent-pool}
  - id: two
    wait: 7d
    action: {channel: email, template: blog-digest}
"""

WELCOME = """
id: welcome
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: hello
    action: {channel: email, template: welcome-talent-pool}
"""

DOWNLOAD_FOLLOW_UP = """
id: download-follow-up
version: 1
trigger: {event: content_downloaded}
steps:
  - id: thanks
    action: {channel: email, template: thanks-for-downloading}
  - id: tell-recruiter
    action: {channel: recruiter_alert, template: download-alert}
"""

DIGEST = """
id: digest
version: 1
trigger: {event: talent_pool_joined}
steps:
  - id: first
    action: {channel: email, template: blog-digest, content: {kinds: [blog_post], count: 2, min: 1}}
  - id: second
    wait: 7d
    action: {channel: email, template: blog-digest, content: {kinds: [blog_post], count: 2, min: 1}}
  - id: third
    wait: 7d
    action: {channel: email, template: blog-digest, content: {kinds: [blog_post], count: 2, min: 1}}
"""


def _post(content_id: str, tag: str, published: str, extra: str = "") -> str:
    return (
        f"  - {{id: {content_id}, title: {content_id}, language: en, tags: [{tag}],\n"
        f"     url: 'https://careers.example.test/blog/{content_id}',\n"
        f"     published_at: '{published}'{extra}}}\n"
    )


#: Three live Python posts, one expired, two design posts and one matching nobody.
CATALOG = {
    "blog_posts": "kind: blog_post\nitems:\n"
    + _post("py-1", "python", "2025-01-01T09:00:00Z")
    + _post("py-2", "python", "2025-01-02T09:00:00Z")
    + _post("py-3", "python", "2025-01-03T09:00:00Z")
    + _post("py-old", "python", "2025-01-04T09:00:00Z", ", expires_at: '2025-02-01T00:00:00Z'")
    + _post("design-1", "ux-research", "2025-01-01T09:00:00Z")
    + _post("design-2", "ux-research", "2025-01-02T09:00:00Z")
    + _post("sales-1", "growth", "2025-01-05T09:00:00Z")
}


@pytest.fixture
def runs(kafka: KafkaSettings, tmp_path: Path) -> Iterator[list[TimerRun]]:
    made: list[TimerRun] = []
    yield made
    for run in made:
        run.close()


def _run(
    made: list[TimerRun],
    kafka: KafkaSettings,
    tmp: Path,
    campaigns: dict[str, str],
    catalog: dict[str, str] | None = None,
) -> TimerRun:
    run = TimerRun(kafka, tmp, "stream", {**campaigns, "policy": POLICY}, catalog)
    made.append(run)
    return run


def test_tier_transition_and_profile_change_trigger_campaigns(
    kafka: KafkaSettings, tmp_path: Path, runs: list[TimerRun]
) -> None:
    hot, no_ads, engaged, changer, clock = ids_on_partition(unique("trig"), 5)
    run = _run(
        runs,
        kafka,
        tmp_path,
        {
            "hot-candidate": (DEFAULT_DEFINITIONS / "hot-candidate.yaml").read_text(),
            "interests-changed": INTERESTS_CHANGED,
        },
    )
    both = {"email": consent(), "ads": consent()}
    run.start(
        [
            profile_record(hot, consents=both),
            profile_record(no_ads),  # e-mail consent only
            profile_record(engaged, consents=both),
            profile_record(changer),
        ]
    )
    needed = applications_to_hot()

    def applications(candidate: str, count: int) -> list[tuple[bytes, bytes]]:
        at = [T0 + timedelta(minutes=n) for n in range(count)]
        return [event_record(candidate, "application_submitted", at[n], n) for n in range(count)]

    run.send(
        applications(hot, needed)
        + applications(no_ads, needed)
        + applications(engaged, needed - 1)
        + [event_record(clock, "page_viewed", T0)]
    )
    assert run.steps(hot) == ["alert-recruiter", "add-to-audience"]
    assert run.steps(no_ads) == ["alert-recruiter"]
    assert run.steps(engaged) == [], "one application short of hot"
    alert, audience = run.actions(hot)
    crossing = T0 + timedelta(minutes=needed - 1)
    assert (
        alert["trigger_event_id"]
        == f"{hot}-application_submitted-{int(crossing.timestamp())}-{needed - 1}"
    )
    assert alert["decided_at"] == crossing, "decided at the event that made the candidate hot"
    assert alert["channel"] == "recruiter_alert" and alert["params"]["tier"] == "hot"
    assert (audience["audience"], audience["audience_op"]) == ("hot-candidates", "add")
    labels = {"campaign": "hot-candidate", "reason": "consent_missing"}
    assert run.metric(SUPPRESSED, labels) == 1, "no `ads` consent: the audience add is refused"

    # Profile changes: locations only (not a trigger field), then interests.
    moved = T0 + timedelta(days=1)
    interested = moved + timedelta(hours=1)
    run.update(
        [
            profile_record(changer, locations=["London"], updated_at=moved),
            profile_record(
                changer, locations=["London"], interests=["python"], updated_at=interested
            ),
        ]
    )
    (picks,) = run.actions(changer)
    assert (picks["campaign_id"], picks["step_id"]) == ("interests-changed", "picks")
    assert picks["trigger_event_id"] == f"profile:{to_micros(interested)}"
    assert picks["decided_at"] == interested
    python_posts = {i.content_id for i in load_catalog().of_kind("blog_post") if "python" in i.tags}
    (chosen,) = [item["content_id"] for item in picks["content"]]
    assert chosen in python_posts, "the pick matches the new interest"

    # Thirty days on, the audience removal goes out; a removal needs no consent.
    run.send([event_record(clock, "page_viewed", T0 + timedelta(days=31), 1)])
    assert run.steps(hot) == ["alert-recruiter", "add-to-audience", "remove-from-audience"]
    assert run.steps(no_ads) == ["alert-recruiter", "remove-from-audience"]


def test_consent_missing_expired_and_withdrawn_mid_sequence(
    kafka: KafkaSettings, tmp_path: Path, runs: list[TimerRun]
) -> None:
    missing, expiring, withdrawing, steady, clock = ids_on_partition(unique("consent"), 5)
    run = _run(runs, kafka, tmp_path, {"nurture": TWO_STEPS})
    run.start(
        [
            profile_record(missing, consents={}),
            profile_record(
                expiring, consents={"email": consent(expires_at=T0 + timedelta(days=5))}
            ),
            profile_record(withdrawing),
            profile_record(steady),
        ]
    )
    run.send(
        [
            event_record(c, "talent_pool_joined", T0)
            for c in (missing, expiring, withdrawing, steady)
        ]
        + [event_record(clock, "page_viewed", T0)]
    )
    for candidate in (expiring, withdrawing, steady):
        assert run.steps(candidate) == ["one"]
    assert run.steps(missing) == []

    def suppressed(reason: str) -> float:
        return run.metric(SUPPRESSED, {"campaign": "nurture", "reason": reason})

    assert suppressed("consent_missing") == 1

    # Day 3, between step one and step two: the candidate withdraws e-mail consent.
    withdrawn = T0 + timedelta(days=3)
    run.update(
        [
            profile_record(
                withdrawing,
                consents={"email": consent(withdrawn_at=withdrawn)},
                updated_at=withdrawn,
            )
        ]
    )
    assert suppressed("consent_withdrawn") == 0, "the withdrawal itself suppresses nothing"

    run.send([event_record(clock, "page_viewed", T0 + timedelta(days=8), 1)])
    assert run.steps(steady) == ["one", "two"], "step two is due on day 7"
    assert run.steps(withdrawing) == ["one"], "withdrawn on day 3: step two suppressed"
    assert run.steps(expiring) == ["one"], "expired on day 5: step two suppressed"
    assert run.steps(missing) == []
    assert suppressed("consent_withdrawn") == 1
    assert suppressed("consent_expired") == 1
    assert suppressed("consent_missing") == 2, "a refused step is skipped, the sequence goes on"


def test_frequency_cap_is_shared_by_two_campaigns(
    kafka: KafkaSettings, tmp_path: Path, runs: list[TimerRun]
) -> None:
    capped, fresh, clock = ids_on_partition(unique("cap"), 3)
    run = _run(
        runs, kafka, tmp_path, {"welcome": WELCOME, "download-follow-up": DOWNLOAD_FOLLOW_UP}
    )
    run.start([profile_record(capped), profile_record(fresh)])
    run.send(
        [
            event_record(capped, "talent_pool_joined", T0),  # 10:00 London: welcome e-mail
            event_record(capped, "content_downloaded", T0 + timedelta(hours=2)),  # same day
            event_record(fresh, "content_downloaded", T0 + timedelta(hours=2)),
            event_record(clock, "page_viewed", T0 + timedelta(hours=2)),
        ]
    )
    assert [(a["campaign_id"], a["step_id"]) for a in run.actions(capped)] == [
        ("welcome", "hello"),
        ("download-follow-up", "tell-recruiter"),  # recruiter alerts are exempt from caps
    ]
    assert run.steps(fresh) == ["thanks", "tell-recruiter"], "nothing sent today: no cap"
    labels = {"campaign": "download-follow-up", "reason": "cap_daily"}
    assert run.metric(SUPPRESSED, labels) == 1
    assert run.metric(SUPPRESSED, {"campaign": "welcome", "reason": "cap_daily"}) == 0


def test_personalisation_picks_by_interest_and_never_repeats(
    kafka: KafkaSettings, tmp_path: Path, runs: list[TimerRun]
) -> None:
    pythonista, designer, clock = ids_on_partition(unique("pers"), 3)
    run = _run(runs, kafka, tmp_path, {"digest": DIGEST}, CATALOG)
    run.start(
        [
            profile_record(pythonista, interests=["Python"]),  # matched case-insensitively
            profile_record(designer, interests=["ux-research"]),
        ]
    )
    run.send(
        [
            event_record(pythonista, "talent_pool_joined", T0),
            event_record(designer, "talent_pool_joined", T0),
            event_record(clock, "page_viewed", T0),
        ]
    )
    run.send([event_record(clock, "page_viewed", T0 + timedelta(days=15), 1)])

    def picks(candidate: str) -> list[tuple[str, list[str]]]:
        return [
            (a["step_id"], [item["content_id"] for item in a["content"]])
            for a in run.actions(candidate)
        ]

    # Newest matching posts first; the expired py-old and other topics never.
    assert picks(pythonista) == [("first", ["py-3", "py-2"]), ("second", ["py-1"])]
    assert picks(designer) == [("first", ["design-2", "design-1"])]
    for candidate in (pythonista, designer):
        sent = [content for _, items in picks(candidate) for content in items]
        assert len(sent) == len(set(sent)), "no item twice to the same candidate"
        assert all(
            item["kind"] == "blog_post" for a in run.actions(candidate) for item in a["content"]
        )
    # Nothing left to send: the third step (and the designer's second) are skipped.
    assert run.metric(SUPPRESSED, {"campaign": "digest", "reason": "no_content"}) == 3
