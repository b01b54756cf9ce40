"""The codec benchmark reports every figure and the hot path stays within its budget."""

from __future__ import annotations

from schemas.bench import bench_codec, typical_event
from schemas.codec import activity_codec
from schemas.models import parse_event

#: Encode + decode of one typical activity event on the development machine, in microseconds.
ROUNDTRIP_BUDGET_US = 20.0


def test_the_typical_event_is_valid_and_round_trips() -> None:
    record = typical_event()
    assert parse_event(record).to_avro() == record
    assert activity_codec().decode(activity_codec().encode(record)) == record


def test_bench_codec_reports_every_step_within_budget() -> None:
    # Many short runs: the best of them is the least disturbed by other processes.
    results = bench_codec(n=2_000, repeats=30)
    assert set(results) == {
        "encode_us", "decode_us", "roundtrip_us", "decode_oldest_version_us",
        "model_validate_us", "model_parse_json_us", "model_to_avro_us", "event_bytes",
    }  # fmt: skip
    assert all(value > 0 for value in results.values())
    assert results["roundtrip_us"] > max(results["encode_us"], results["decode_us"])
    assert results["event_bytes"] == len(activity_codec().encode(typical_event()))
    assert results["roundtrip_us"] < ROUNDTRIP_BUDGET_US, results
