"""The schema registry: loading guards, fingerprints and compatibility between versions."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import avro.schema
import pytest

from schemas.catalog import (
    REGISTRY_DIR,
    SUBJECTS,
    SchemaVersion,
    Subject,
    default_catalog,
    fingerprint_of,
    load_catalog,
)
from schemas.compatibility import can_read, check_catalog, check_subject
from schemas.errors import ConfigError

# --- an independent CRC-64-AVRO, straight from the Avro specification ------------------------

_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc64_table()


def _crc64_avro(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def test_fingerprint_matches_the_spec_test_vector() -> None:
    # Avro's test data: the fingerprint of "null" is 7195948357588979594 (little-endian on the wire)
    assert _crc64_avro(b'"null"') == 7195948357588979594
    assert fingerprint_of("null") == (7195948357588979594).to_bytes(8, "little")


@pytest.mark.parametrize("version", list(default_catalog().by_fingerprint.values()), ids=repr)
def test_fingerprints_follow_the_spec(version: SchemaVersion) -> None:
    canonical = version.canonical_form.encode()
    assert version.fingerprint == _crc64_avro(canonical).to_bytes(8, "little")
    # The `avro` package (1.12) keeps {"type":"long"} for logical types where the spec, Java and
    # fastavro reduce it to "long" ([PRIMITIVES] + [STRIP]); otherwise the two forms must agree.
    by_avro = avro.schema.parse(json.dumps(version.schema)).canonical_form
    assert by_avro.replace('{"type":"long"}', '"long"') == version.canonical_form
    assert "logicalType" not in version.canonical_form and "doc" not in version.canonical_form


def test_the_registry_holds_exactly_the_contract_subjects() -> None:
    catalog = default_catalog()
    assert tuple(catalog.subjects) == SUBJECTS
    assert catalog.subject("activity_event").current.version == 2
    assert len(catalog.by_fingerprint) == sum(len(s.versions) for s in catalog.subjects.values())


def test_every_version_keeps_its_subjects_record_name() -> None:
    for subject in default_catalog().subjects.values():
        names = {v.schema["name"] for v in subject.versions}
        assert len(names) == 1, f"{subject.name} renamed its record: {names}"


# --- compatibility ------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", SUBJECTS)
def test_every_version_meets_its_subjects_level(subject: str) -> None:
    assert check_subject(default_catalog().subject(subject)) == []


def test_activity_event_v2_is_fully_compatible_both_ways() -> None:
    activity = default_catalog().subject("activity_event")
    v1, v2 = activity.version(1), activity.version(2)
    assert can_read(v2, v1) is None  # new reader, old data
    assert can_read(v1, v2) is None  # old reader, new data


def _version(subject: str, number: int, schema: dict[str, Any]) -> SchemaVersion:
    return SchemaVersion(subject, number, schema, json.dumps(schema), fingerprint_of(schema))


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Thing", "namespace": "t", "fields": list(fields)}


_ID = {"name": "id", "type": "string"}


def test_a_new_required_field_breaks_backward() -> None:
    old = _version("thing", 1, _record(_ID))
    new = _version("thing", 2, _record(_ID, {"name": "size", "type": "int"}))
    problems = check_subject(Subject("thing", "FULL", (old, new)))
    assert [(p.reader_version, p.writer_version) for p in problems] == [(2, 1)]
    assert "size" in str(problems[0])
    assert check_subject(Subject("thing", "FORWARD", (old, new))) == []


def test_removing_a_field_old_readers_need_breaks_forward() -> None:
    old = _version("thing", 1, _record(_ID, {"name": "size", "type": "int"}))
    new = _version("thing", 2, _record(_ID))
    problems = check_subject(Subject("thing", "FULL", (old, new)))
    assert [(p.reader_version, p.writer_version) for p in problems] == [(1, 2)]
    assert check_subject(Subject("thing", "BACKWARD", (old, new))) == []
    assert check_subject(Subject("thing", "NONE", (old, new))) == []


def test_levels_are_transitive() -> None:
    v1 = _version("thing", 1, _record(_ID, {"name": "size", "type": "int"}))
    v2 = _version("thing", 2, _record(_ID, {"name": "size", "type": "int", "default": 0}))
    v3 = _version("thing", 3, _record(_ID))  # fine for v2 (has a default), not for v1
    problems = check_subject(Subject("thing", "FORWARD", (v1, v2, v3)))
    assert [(p.reader_version, p.writer_version) for p in problems] == [(1, 3)]


def test_a_new_event_type_is_backward_but_not_forward_compatible() -> None:
    current = default_catalog().subject("activity_event").current
    schema = copy.deepcopy(current.schema)
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    payload["type"].append(
        {
            "type": "record",
            "name": "OfferAccepted",
            "namespace": "candidate_nurture",
            "event_type": "offer_accepted",
            "fields": [{"name": "job_id", "type": "string"}],
        }
    )
    newer = _version("activity_event", current.version + 1, schema)
    assert can_read(newer, current) is None
    problem = can_read(current, newer)
    assert problem is not None
    assert problem.locations == ("/fields/7/type/12",)  # the new branch of the payload union
    assert "reader union lacking writer type" in str(problem)
    assert check_subject(Subject("activity_event", "BACKWARD", (current, newer))) == []


def test_the_shipped_catalog_has_no_violations() -> None:
    assert check_catalog(default_catalog()) == []


# --- loading guards -----------------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A writable copy of the shipped registry."""
    target = tmp_path / "registry"
    shutil.copytree(REGISTRY_DIR, target)
    return target


def _index(registry: Path) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((registry / "index.json").read_text())
    return index


def _write_index(registry: Path, index: dict[str, Any]) -> None:
    (registry / "index.json").write_text(json.dumps(index))


def test_a_copy_of_the_registry_loads(registry: Path) -> None:
    assert set(load_catalog(registry).by_fingerprint) == set(default_catalog().by_fingerprint)


def test_editing_a_published_version_is_refused(registry: Path) -> None:
    path = registry / "erasure_request" / "v1.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append({"name": "ticket", "type": ["null", "string"], "default": None})
    path.write_text(json.dumps(schema))
    with pytest.raises(ConfigError, match="published version was edited"):
        load_catalog(registry)


def test_editing_only_docs_of_a_published_version_is_allowed(registry: Path) -> None:
    path = registry / "erasure_request" / "v1.avsc"
    schema = json.loads(path.read_text())
    schema["doc"] = "Reworded."
    path.write_text(json.dumps(schema))
    assert load_catalog(registry).subject("erasure_request").current.schema["doc"] == "Reworded."


def test_an_unrecorded_version_names_the_fingerprint_to_add(registry: Path) -> None:
    schema = json.loads((registry / "erasure_request" / "v1.avsc").read_text())
    schema["fields"].append({"name": "ticket", "type": ["null", "string"], "default": None})
    (registry / "erasure_request" / "v2.avsc").write_text(json.dumps(schema))
    expected = fingerprint_of(schema).hex()
    with pytest.raises(ConfigError, match=f'add "2": "{expected}"'):
        load_catalog(registry)
    index = _index(registry)
    index["subjects"]["erasure_request"]["fingerprints"]["2"] = expected
    _write_index(registry, index)
    assert load_catalog(registry).subject("erasure_request").current.version == 2


def test_a_version_with_the_same_canonical_form_is_refused(registry: Path) -> None:
    schema = json.loads((registry / "erasure_request" / "v1.avsc").read_text())
    schema["doc"] = "Only the docs changed."
    (registry / "erasure_request" / "v2.avsc").write_text(json.dumps(schema))
    index = _index(registry)
    index["subjects"]["erasure_request"]["fingerprints"]["2"] = fingerprint_of(schema).hex()
    _write_index(registry, index)
    with pytest.raises(ConfigError, match="same canonical form"):
        load_catalog(registry)


def test_gaps_and_stray_files_are_refused(registry: Path) -> None:
    (registry / "erasure_request" / "v3.avsc").write_text('"string"')
    with pytest.raises(ConfigError, match="without gaps"):
        load_catalog(registry)
    (registry / "erasure_request" / "v3.avsc").unlink()
    (registry / "erasure_request" / "notes.txt").write_text("hi")
    with pytest.raises(ConfigError, match=r"v<N>\.avsc"):
        load_catalog(registry)


def test_index_and_folders_must_agree(registry: Path) -> None:
    (registry / "mystery").mkdir()
    with pytest.raises(ConfigError, match=r"differ from index\.json"):
        load_catalog(registry)


def test_a_recorded_version_without_a_file_is_refused(registry: Path) -> None:
    index = _index(registry)
    index["subjects"]["erasure_request"]["fingerprints"]["2"] = "00" * 8
    _write_index(registry, index)
    with pytest.raises(ConfigError, match="with no file"):
        load_catalog(registry)


def test_unknown_compatibility_levels_are_refused(registry: Path) -> None:
    index = _index(registry)
    index["subjects"]["erasure_request"]["compatibility"] = "SIDEWAYS"
    _write_index(registry, index)
    with pytest.raises(ConfigError, match=r"index\.json is invalid"):
        load_catalog(registry)


def test_the_level_defaults_to_full(registry: Path) -> None:
    index = _index(registry)
    del index["subjects"]["erasure_request"]["compatibility"]
    _write_index(registry, index)
    assert load_catalog(registry).subject("erasure_request").compatibility == "FULL"


def test_an_invalid_schema_file_is_refused(registry: Path) -> None:
    bad = {"type": "record", "name": "X", "fields": [{"name": "a", "type": "int", "default": "x"}]}
    (registry / "erasure_request" / "v1.avsc").write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="not a valid Avro schema"):
        load_catalog(registry)
