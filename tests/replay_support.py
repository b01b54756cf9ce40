"""Helpers of the replay tests: profiles, CLI runs, reading a topic's last record per key."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner, Result

from deploy.cli.main import app
from schemas.settings import KafkaSettings
from streams.bench.loadgen import START
from tests.kafka_helpers import read_all


def profile(candidate_id: str, *, email_consent: bool) -> dict[str, Any]:
    consents = {"email": {"granted": True, "granted_at": START}} if email_consent else {}
    return {
        "candidate_id": candidate_id,
        "contact": {"email": f"{candidate_id}@example.com"},
        "locale": "en-GB",
        "time_zone": "UTC",
        "consents": consents,
        "updated_at": START,
        "source": "test",
    }


def nurture(kafka: KafkaSettings, *args: str, input: str | None = None) -> Result:
    """Run ``nurture --bootstrap ... --topic-prefix ... <args>`` in this process."""
    return CliRunner().invoke(
        app,
        ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix, *args],
        input=input,
    )


def last_per_key(kafka: KafkaSettings, topic: str) -> dict[bytes, bytes | None]:
    """The last value per key of ``topic`` (what compaction keeps)."""
    latest: dict[bytes, bytes | None] = {}
    for message in sorted(read_all(kafka, topic, timeout_s=60), key=lambda m: m.offset):
        latest[message.key] = message.value
    return latest


def metric(port: int, name: str, labels: dict[str, str]) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
