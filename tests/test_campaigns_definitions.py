"""Campaign files: the shipped ones load; invalid ones are refused naming campaign, step, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from schemas.models import EVENT_TYPES
from streams.campaigns.durations import DAY_US, HOUR_US, format_duration, parse_duration
from streams.campaigns.loading import (
    DEFAULT_DEFINITIONS,
    CampaignDefinitionError,
    load_campaigns,
    validate_path,
)
from tests.test_campaigns_support import WELCOME


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def messages(path: Path) -> list[str]:
    return [str(problem) for problem in validate_path(path)]


def test_the_shipped_campaigns_load() -> None:
    loaded = load_campaigns()
    ids = [campaign.id for campaign in loaded.campaigns]
    assert ids == ["event-invitation", "hot-candidate", "re-engagement", "welcome-series"]
    welcome = loaded.by_id["welcome-series"]
    assert [s.wait for s in welcome.steps] == [0, 7 * DAY_US, 14 * DAY_US]
    assert welcome.reentry is None
    assert loaded.by_id["hot-candidate"].reentry == 30 * DAY_US
    assert loaded.by_id["re-engagement"].trigger.inactivity is not None
    assert loaded.policy.quiet_hours.start == "21:00"
    assert validate_path(DEFAULT_DEFINITIONS) == []


@pytest.mark.parametrize(
    ("text", "micros"),
    [("7d", 7 * DAY_US), ("12h", 12 * HOUR_US), ("1d12h", 36 * HOUR_US), ("0d", 0)],
)
def test_durations(text: str, micros: int) -> None:
    assert parse_duration(text) == micros
    assert parse_duration(format_duration(micros)) == micros


@pytest.mark.parametrize("text", ["7", "7 days", "d", "", "-1d", "7w"])
def test_durations_need_a_unit(text: str) -> None:
    with pytest.raises(ValueError, match="must be a duration like 7d"):
        parse_duration(text)


def test_a_bad_wait_names_campaign_step_and_field(tmp_path: Path) -> None:
    bad = WELCOME.replace("id: welcome\n", "id: welcome-series\n").replace("wait: 7d", "wait: 7")
    write(tmp_path, "welcome.yaml", bad)
    assert messages(tmp_path) == [
        "welcome.yaml: campaign welcome-series step 2 (digest): wait: must be a duration like 7d "
        "(units d, h, m; e.g. 0d, 12h, 1d12h)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "broken.yaml",
        """
id: broken
version: 0
trigger: {event: talent_pool_joind}
steps:
  - id: hello
    action: {channel: email}
  - id: fax
    action: {channel: fax}
reentry: sometimes
""",
    )
    found = messages(tmp_path)
    assert found == [
        "broken.yaml: campaign broken: version: Input should be greater than or equal to 1",
        "broken.yaml: campaign broken: trigger.event.0: unknown event type 'talent_pool_joind'; "
        "known: " + ", ".join(EVENT_TYPES),
        "broken.yaml: campaign broken step 1 (hello): action.template: required",
        "broken.yaml: campaign broken step 2 (fax): action: channel must be one of ad_audience, "
        "career_event_invite, email, recruiter_alert, webhook",
        "broken.yaml: campaign broken: reentry: must be 'never' or 'after <duration>', "
        "e.g. 'after 90d' or 'after 12h'",
    ]
    with pytest.raises(CampaignDefinitionError) as raised:
        load_campaigns(tmp_path)
    assert isinstance(raised.value, ConfigError)
    assert len(raised.value.problems) == 5
    assert str(raised.value).splitlines() == found


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("trigger: {event: talent_pool_joined}", "trigger: {tier: {to: scorching}}"),
            "campaign welcome: trigger.tier.to: unknown tier 'scorching'; "
            "known: cold, engaged, hot, warm",
        ),
        (
            ("id: digest", "id: hello"),
            "campaign welcome step 2 (hello): id: duplicate step id",
        ),
        (
            ("trigger: {event: talent_pool_joined}", "trigger: {}"),
            "campaign welcome: trigger: give exactly one of event, tier, profile_change, "
            "inactivity",
        ),
        (
            (
                "trigger: {event: talent_pool_joined}",
                "trigger: {event: talent_pool_joined, inactivity: 60d}",
            ),
            "campaign welcome: trigger: give exactly one of event, tier, profile_change, "
            "inactivity",
        ),
        (
            ("content: {kinds: [blog_post], count: 2, min: 1}", "content: {kinds: [podcast]}"),
            "campaign welcome step 2 (digest): action.content.kinds.0: input should be "
            "'blog_post', 'career_event' or 'job_opening', not 'podcast'",
        ),
        (
            ("count: 2, min: 1", "count: 1, min: 2"),
            "campaign welcome step 2 (digest): action.content: min must not exceed count",
        ),
        (
            ("template: hello}", "template: hello, colour: red}"),
            "campaign welcome step 1 (hello): action.colour: unknown setting",
        ),
        (
            ("goals: [application_submitted, unsubscribed]", "goals: [applied]"),
            "campaign welcome: exit.goals.0: unknown event type 'applied'",
        ),
    ],
)
def test_invalid_campaigns(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in WELCOME
    write(tmp_path, "welcome.yaml", WELCOME.replace(old, new))
    found = messages(tmp_path)
    assert len(found) == 1
    assert found[0].startswith(f"welcome.yaml: {expected}")


def test_duplicate_campaign_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", WELCOME)
    write(tmp_path, "b.yaml", WELCOME)
    assert messages(tmp_path) == [
        "b.yaml: campaign welcome: id: duplicate campaign id (also in a.yaml)"
    ]


def test_policy_problems_are_named(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", WELCOME)
    write(tmp_path, "policy.yaml", "quiet_hours: {start: '9pm'}\ncaps: [{name: x, channels: []}]\n")
    found = messages(tmp_path)
    assert "policy.yaml: policy: quiet_hours.start: must be a time of day like 21:00" in found
    assert any(line.startswith("policy.yaml: policy: caps.0.channels:") for line in found)


def test_not_yaml_and_empty_folders(tmp_path: Path) -> None:
    assert messages(tmp_path) == [f"{tmp_path.name}: policy: no *.yaml files"]
    write(tmp_path, "bad.yaml", "id: [unclosed\n")
    (found,) = messages(tmp_path)
    assert found.startswith("bad.yaml: campaign bad: not valid YAML")


def test_a_single_file_loads_with_the_default_policy(tmp_path: Path) -> None:
    loaded = load_campaigns(write(tmp_path, "welcome.yaml", WELCOME))
    assert [c.id for c in loaded.campaigns] == ["welcome"]
    assert loaded.policy.caps[0].daily == 1


def test_reentry_forms(tmp_path: Path) -> None:
    text = WELCOME.replace("reentry: never", "reentry: after 1d12h")
    loaded = load_campaigns(write(tmp_path, "welcome.yaml", text))
    assert loaded.campaigns[0].reentry == 36 * HOUR_US


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    docs = Path(__file__).parent.parent / "docs" / "campaigns.md"
    text = docs.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_campaigns(write(tmp_path, "example.yaml", example))
    (campaign,) = loaded.campaigns
    assert campaign.id == "welcome-series" and len(campaign.steps) == 3
    assert campaign.conditions.within == {"job_alert_subscribed": 30 * DAY_US}
