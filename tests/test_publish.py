"""`nurture publish` against the real broker: counts, rejects file, duplicates, exit status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from deploy.cli.publish_cmd import EXIT_REJECTED
from producers.simulate import generate
from producers.simulate.output import write_jsonl
from schemas.codec import decode
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE
from tests.kafka_helpers import read_all
from tests.test_producers_sdk import page_view, profile

pytestmark = pytest.mark.kafka


def invoke(kafka: KafkaSettings, *args: str, stdin: bytes | None = None) -> Any:
    flags = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix]
    return CliRunner().invoke(app, [*flags, "publish", *args], input=stdin)


def lines(*items: Any) -> bytes:
    return b"".join(
        (item if isinstance(item, bytes) else json.dumps(item).encode()) + b"\n" for item in items
    )


def test_good_bad_and_duplicate_lines(kafka: KafkaSettings, tmp_path: Path) -> None:
    first = page_view("cand-a")
    no_candidate = page_view()
    del no_candidate["candidate_id"]
    source = tmp_path / "events.jsonl"
    source.write_bytes(
        lines(
            first,  # 1
            page_view("cand-b"),  # 2
            b"{not json",  # 3
            no_candidate,  # 4
            first,  # 5: duplicate event_id
            b"",  # 6: blank, skipped
            {"subject": "candidate_profile", "record": profile("cand-a")},  # 7
            {"subject": "erasure_request", "record": {"candidate_id": "cand-b", "source": "t"}},
            [1, 2, 3],  # 9
        )
    )
    result = invoke(kafka, str(source))

    assert result.exit_code == EXIT_REJECTED, result.output
    assert "published:  4" in result.output
    assert "duplicates: 1" in result.output
    assert "rejected:   3" in result.output
    assert "line 4: candidate_id" in result.output
    rejects = [
        orjson.loads(line) for line in Path(f"{source}.rejects.jsonl").read_bytes().splitlines()
    ]
    assert [(r["line"], r["field"]) for r in rejects] == [
        (3, "(line)"),
        (4, "candidate_id"),
        (9, "(line)"),
    ]
    assert rejects[0]["input"] == "{not json"
    assert "not valid JSON" in rejects[0]["reason"]

    activity = read_all(kafka, kafka.topic(ACTIVITY))
    assert sorted(r.key for r in activity) == [b"cand-a", b"cand-b"]
    subjects = sorted(decode(r.value).subject for r in read_all(kafka, kafka.topic(PROFILE)))
    assert subjects == ["candidate_profile", "erasure_request"]


def test_clean_file_exits_zero_and_writes_no_rejects(kafka: KafkaSettings, tmp_path: Path) -> None:
    source = tmp_path / "clean.jsonl"
    source.write_bytes(lines(page_view("cand-1"), page_view("cand-2")))
    result = invoke(kafka, str(source))
    assert result.exit_code == 0, result.output
    assert not Path(f"{source}.rejects.jsonl").exists()
    assert len(read_all(kafka, kafka.topic(ACTIVITY))) == 2


def test_profiles_flag_and_stdin_with_custom_rejects_path(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    rejects = tmp_path / "bad.jsonl"
    bad = profile("cand-bad")
    bad["contact"] = {"first_name": "Nobody"}  # neither e-mail nor phone
    stdin = lines(profile("cand-p1"), bad)
    result = invoke(kafka, "-", "--profiles", "--rejects", str(rejects), stdin=stdin)
    assert result.exit_code == EXIT_REJECTED, result.output
    [rejected] = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert (rejected["line"], rejected["field"]) == (2, "contact")
    [record] = read_all(kafka, kafka.topic(PROFILE))
    assert record.key == b"cand-p1"
    assert read_all(kafka, kafka.topic(ACTIVITY)) == []


def test_simulator_file_publishes_whole(kafka: KafkaSettings, tmp_path: Path) -> None:
    source = tmp_path / "sim.jsonl"
    with source.open("wb") as out:
        counts = write_jsonl(generate(4, 40, events=150), out)
    result = invoke(kafka, str(source))
    assert result.exit_code == 0, result.output
    assert len(read_all(kafka, kafka.topic(ACTIVITY))) == counts.events == 150
    assert len(read_all(kafka, kafka.topic(PROFILE))) == counts.profiles


def test_missing_file_is_a_usage_error(kafka: KafkaSettings, tmp_path: Path) -> None:
    result = invoke(kafka, str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
