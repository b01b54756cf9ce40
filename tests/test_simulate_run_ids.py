"""Run ids: every `nurture up --demo` feeds new events with the seed's content (issue #16).

The seed fixes the content; a run id re-derives only the identifiers, so two demo runs send
disjoint ids and otherwise the same records, while `nurture simulate --output` without a run id
stays byte-for-byte the seed's (tests/test_simulate.py checks that too).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from deploy.cli.simulate_cmd import _report_gateway
from deploy.up.plan import NURTURE, UpOptions, pipeline_children
from producers.simulate import SimRecord, generate
from producers.simulate.run_ids import (
    PAYLOAD_ID_FIELDS,
    RECORD_ID_FIELDS,
    new_run_id,
    scope_record,
    scoped_id,
)
from producers.simulate.via_gateway import GatewayCounts
from schemas.codec import activity_codec, encode
from schemas.models import parse_event, parse_profile
from schemas.settings import KafkaSettings

END = datetime(2025, 6, 1, tzinfo=UTC)
SIZE = ["--candidates", "40", "--events", "300", "--end", "2025-06-01"]
runner = CliRunner()


def run(seed: int, run_id: str | None, candidates: int = 200) -> list[SimRecord]:
    return list(generate(seed, candidates, end=END, run_id=run_id))


def ids_of(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, identifier) of every identifier in a simulated record."""
    for name in RECORD_ID_FIELDS:
        if name in record:
            yield name, record[name]
    payload = record.get("payload") or {}
    for name in PAYLOAD_ID_FIELDS:
        if payload.get(name) is not None:
            yield name, payload[name]


def without_ids(record: dict[str, Any]) -> dict[str, Any]:
    stripped = {k: v for k, v in record.items() if k not in RECORD_ID_FIELDS}
    if isinstance(payload := record.get("payload"), dict):
        stripped["payload"] = {k: v for k, v in payload.items() if k not in PAYLOAD_ID_FIELDS}
    return stripped


def id_sets(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for record in records:
        for name, value in ids_of(record):
            found.setdefault(name, set()).add(value)
    return found


def test_two_runs_of_a_seed_have_disjoint_ids_and_the_same_content() -> None:
    seed_own, first, second = run(7, None), run(7, "run-a"), run(7, "run-b")
    assert len(seed_own) == len(first) == len(second)
    for a, b, c in zip(seed_own, first, second, strict=True):
        assert a.subject == b.subject == c.subject
        assert without_ids(a.record) == without_ids(b.record) == without_ids(c.record)
    by_run = [id_sets([sim.record for sim in records]) for records in (seed_own, first, second)]
    assert set(by_run[0]) == {"event_id", "candidate_id", *PAYLOAD_ID_FIELDS}
    for name, seed_ids in by_run[0].items():
        assert len(by_run[1][name]) == len(by_run[2][name]) == len(seed_ids), name
        assert not seed_ids & by_run[1][name], name
        assert not seed_ids & by_run[2][name], name
        assert not by_run[1][name] & by_run[2][name], name


def test_a_run_keeps_every_reference_between_records() -> None:
    """One seed id becomes one run id wherever it appears, and distinct ids stay distinct."""
    mapping: dict[tuple[str, str], str] = {}
    for seed_sim, run_sim in zip(run(3, None), run(3, "r1"), strict=True):
        pairs = zip(ids_of(seed_sim.record), ids_of(run_sim.record), strict=True)
        for (name, seed_id), (run_name, run_id) in pairs:
            assert name == run_name
            assert mapping.setdefault((name, seed_id), run_id) == run_id
    per_field: dict[str, list[str]] = {}
    for (name, _), value in mapping.items():
        per_field.setdefault(name, []).append(value)
    assert all(len(set(values)) == len(values) for values in per_field.values())


def test_the_same_run_id_repeats_the_run() -> None:
    assert run(5, "again") == run(5, "again")


def test_run_ids_keep_the_formats_and_fit_the_contract() -> None:
    codec = activity_codec()
    patterns = {
        "candidate_id": r"cand-[0-9a-f]{16}",
        "application_id": r"app-[0-9a-f]{12}",
        "alert_id": r"alert-[0-9a-f]{8}",
    }
    for sim in run(17, new_run_id(), candidates=150):
        for name, value in ids_of(sim.record):
            if name in patterns:
                assert re.fullmatch(patterns[name], value), (name, value)
            else:
                assert uuid.UUID(value).version == 4, (name, value)
        if sim.subject == "activity_event":
            parse_event(sim.record)
            codec.encode(sim.record)
        else:
            parse_profile(sim.record)
            encode("candidate_profile", sim.record)


def test_scoped_id_of_other_shapes_and_the_record_left_alone() -> None:
    assert scoped_id("plain", "r") == "plain-r"
    assert scoped_id("e-not-hex", "r") == "e-not-hex-r"
    assert scoped_id("ce-01", "r") != scoped_id("ce-01", "s")
    assert scoped_id("a", "b:c") != scoped_id("b:a", "c")  # run id and id cannot run together

    def record_of() -> dict[str, Any]:
        return {"event_id": "e-1", "candidate_id": "cand-00ff", "payload": {"action_id": "x-ab"}}

    original, record = record_of(), record_of()
    scoped = scope_record(record, "r")
    assert record == original
    assert scoped["candidate_id"].startswith("cand-") and scoped["candidate_id"] != "cand-00ff"
    assert scoped["payload"]["action_id"] != "x-ab"
    with pytest.raises(ValueError, match="run_id"):
        run(1, "")


def test_new_run_ids_differ() -> None:
    assert len({new_run_id() for _ in range(100)}) == 100


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_two_demo_runs_feed_disjoint_ids_with_the_same_content(tmp_path: Path) -> None:
    """The simulator of two `nurture up --demo`, written to files instead of the gateway."""
    outputs = []
    for number in (1, 2):
        options = UpOptions(demo=True)
        children = {c.name: c for c in pipeline_children(KafkaSettings(), options, tmp_path)}
        argv = list(children["simulator"].argv)[len(NURTURE) :]
        assert argv[argv.index("--run-id") + 1] == options.demo_run_id
        demo_args = argv[: argv.index("--candidates")]  # simulate --run-id <run>: not the sizes
        path = tmp_path / f"demo-{number}.jsonl"
        result = runner.invoke(app, [*demo_args, *SIZE, "--output", str(path)])
        assert result.exit_code == 0, result.output
        assert f"run id {options.demo_run_id}" in result.output
        outputs.append(lines(path))
    first, second = outputs
    assert [(r["subject"], without_ids(r["record"])) for r in first] == [
        (r["subject"], without_ids(r["record"])) for r in second
    ]
    ids = [id_sets([r["record"] for r in records]) for records in outputs]
    assert ids[0].keys() == ids[1].keys()
    assert all(not ids[0][name] & ids[1][name] for name in ids[0])


def test_cli_fresh_ids_differ_and_a_run_id_or_none_gives_the_same_bytes(tmp_path: Path) -> None:
    def output(*flags: str, name: str) -> bytes:
        path = tmp_path / name
        result = runner.invoke(app, ["simulate", *flags, *SIZE, "--output", str(path)])
        assert result.exit_code == 0, result.output
        return path.read_bytes()

    assert output(name="a") == output(name="b")
    assert output("--run-id", "r7", name="c") == output("--run-id", "r7", name="d")
    assert output("--fresh-ids", name="e") != output("--fresh-ids", name="f")
    assert output("--run-id", "r7", name="g") != output(name="h")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--run-id", "x", "--fresh-ids"], "either --run-id or --fresh-ids"),
        (["--run-id", ""], "--run-id must not be empty"),
    ],
)
def test_bad_run_id_flags_are_usage_errors(flags: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", *flags, *SIZE, "--output", "-"])
    assert result.exit_code == 2
    assert message in result.output


def test_a_gateway_run_of_only_duplicates_says_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _report_gateway(GatewayCounts(profiles=3, events=20, duplicates=20), "http://gw", 1.0)
    assert "every event was a duplicate" in capsys.readouterr().out
    _report_gateway(GatewayCounts(profiles=3, events=20, accepted=23), "http://gw", 1.0)
    assert "every event was a duplicate" not in capsys.readouterr().out
