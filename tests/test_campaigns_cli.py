"""`nurture campaigns validate|simulate` and the offline simulation they run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from producers.simulate import generate
from producers.simulate.output import to_json_line
from schemas.errors import ConfigError
from schemas.models import NurtureAction
from streams.campaigns import Engine, load_campaigns, load_catalog, to_record
from streams.campaigns.durations import DAY_US
from streams.campaigns.loading import DEFAULT_DEFINITIONS
from streams.campaigns.simulation import read_records, simulate
from streams.scoring import load_model

runner = CliRunner()
END = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "events.jsonl"
    with path.open("wb") as out:
        for record in generate(7, 60, end=END):
            out.write(to_json_line(record))
    return path


def test_validate_the_shipped_definitions() -> None:
    result = runner.invoke(app, ["campaigns", "validate", str(DEFAULT_DEFINITIONS)])
    assert result.exit_code == 0, result.output
    assert "4 campaign(s)" in result.output


def test_validate_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "id: welcome-series\nversion: 1\ntrigger: {event: talent_pool_joined}\nsteps:\n"
        "  - id: hello\n    action: {channel: email, template: hi}\n"
        "  - id: blog-digest\n    wait: 7 days\n    action: {channel: email, template: d}\n",
        encoding="utf-8",
    )
    bad_catalog = tmp_path / "catalog.yaml"
    bad_catalog.write_text("kind: podcast\nitems: [{id: x}]\n", encoding="utf-8")
    result = runner.invoke(
        app, ["campaigns", "validate", str(tmp_path / "w.yaml"), "--catalog", str(bad_catalog)]
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert (
        "campaign welcome-series step 2 (blog-digest): wait: must be a duration like 7d" in output
    )
    assert "invalid content catalog" in output


def test_simulate_needs_an_events_file_or_a_candidate() -> None:
    # --candidate alone reads Kafka: tests/test_campaigns_simulate_kafka.py
    result = runner.invoke(app, ["campaigns", "simulate"])
    assert result.exit_code == 2  # a usage error
    assert "pass --events FILE" in " ".join(result.output.split())


def test_simulate_prints_a_table_per_candidate_campaign_and_step(events_file: Path) -> None:
    result = runner.invoke(
        app,
        ["campaigns", "simulate", "--events", str(events_file), "--run-on", "90d"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "welcome-series" in result.output and "suppressed(consent_" in result.output
    assert "emitted" in result.output and "held until" in result.output
    assert "60 profiles" in result.output


def test_simulate_one_candidate_as_json(events_file: Path) -> None:
    every = runner.invoke(app, ["campaigns", "simulate", "--events", str(events_file), "--json"])
    rows = [json.loads(line) for line in every.output.splitlines()]
    candidate = rows[0]["candidate_id"]
    result = runner.invoke(
        app,
        ["campaigns", "simulate", "--events", str(events_file), "--json", "--candidate", candidate],
    )
    assert result.exit_code == 0, result.output
    mine = [json.loads(line) for line in result.output.splitlines()]
    assert mine == [row for row in rows if row["candidate_id"] == candidate]
    assert {row["status"] for row in rows} <= {"emitted", "held", "suppressed"}


def test_the_simulation_is_reproducible_and_its_actions_valid(events_file: Path) -> None:
    engine, model = Engine(load_campaigns(), load_catalog()), load_model()
    records = read_records(events_file)
    first = simulate(engine, model, records, run_on_us=90 * DAY_US)
    second = simulate(engine, model, list(reversed(records)), run_on_us=90 * DAY_US)
    # Records are taken in event-time order, so even a reversed file decides the same.
    assert first.outcomes == second.outcomes
    assert first.events == sum(1 for s, _ in records if s == "activity_event")
    campaigns = {o.campaign_id for o in first.outcomes}
    assert campaigns == {"welcome-series", "hot-candidate", "re-engagement", "event-invitation"}
    for outcome in first.outcomes:
        if outcome.action is not None:
            NurtureAction.model_validate(to_record(outcome.action))


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(orjson.dumps({"subject": "activity_event", "record": {}}) + b"\n{nope\n")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2"):
        read_records(path)
