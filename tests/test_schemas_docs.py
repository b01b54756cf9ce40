"""Every JSON example in docs/events.md validates and round-trips, so the doc cannot rot."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import SUBJECTS
from schemas.codec import codec_for, decode
from schemas.models import EVENT_TYPES, parse_record

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"
_FENCE = re.compile(r"^```json(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, dict[str, Any]]]:
    """(subject, JSON object) of every ```json <subject> block in the doc."""
    found = []
    for match in _FENCE.finditer(DOC.read_text(encoding="utf-8")):
        subject = match["info"].strip()
        assert subject in SUBJECTS, f"a json block must name its subject, got {subject!r}"
        found.append((subject, json.loads(match["body"])))
    return found


EXAMPLES = examples()


def _id(example: tuple[str, dict[str, Any]]) -> str:
    subject, obj = example
    return str(obj.get("type", subject))


def test_the_doc_has_an_example_of_every_event_type_and_subject() -> None:
    assert {subject for subject, _ in EXAMPLES} == set(SUBJECTS)
    types = [obj["type"] for subject, obj in EXAMPLES if subject == "activity_event"]
    assert sorted(types) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_example_validates_and_round_trips(example: tuple[str, dict[str, Any]]) -> None:
    subject, obj = example
    model = parse_record(subject, obj)
    found = decode(codec_for(subject).encode(model.to_avro()))
    assert found.subject == subject
    assert type(model).from_avro(found.record) == model
    assert parse_record(subject, model.model_dump(mode="json")) == model


def test_examples_keep_pii_out_of_activity_events() -> None:
    for subject, obj in EXAMPLES:
        if subject == "activity_event":
            text = json.dumps(obj)
            assert "@" not in text and "first_name" not in text, obj
