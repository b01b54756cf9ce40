"""Kafka failing mid-publish: the summary (acked / failed / rejected) survives, exit status 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from kafka.errors import KafkaTimeoutError
from typer.testing import CliRunner

from deploy.cli import publish_cmd
from deploy.cli.main import app
from producers.delivery import PublishTimeoutError
from producers.producer import NurtureProducer
from producers.settings import ProducerSettings, load_producer_settings
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from tests.kafka_helpers import read_all, wait_until
from tests.test_producers_sdk import page_view

pytestmark = pytest.mark.kafka

QUICK = {
    "NURTURE_PRODUCER_MAX_BLOCK_MS": "1000",
    "NURTURE_PRODUCER_REQUEST_TIMEOUT_MS": "1000",
    "NURTURE_PRODUCER_DELIVERY_TIMEOUT_S": "3",
}


@pytest.fixture
def quick_producer_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    load_producer_settings.cache_clear()
    yield
    load_producer_settings.cache_clear()


def topic_gone(kafka: KafkaSettings, name: str) -> bool:
    return name not in topic_admin.list_topics(kafka)


@pytest.mark.usefixtures("quick_producer_env")
def test_topic_deleted_mid_file_still_prints_the_summary_and_exits_1(
    kafka: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = kafka.topic(ACTIVITY)
    first, rest = 5, 20
    source = tmp_path / "events.jsonl"
    bad = page_view("cand-bad")
    del bad["candidate_id"]
    items = [page_view(f"cand-{i}") for i in range(first)] + [bad]
    items += [page_view(f"cand-{i}") for i in range(rest)]
    source.write_bytes(b"".join(json.dumps(item).encode() + b"\n" for item in items))

    def lines_then_delete(stream: BinaryIO) -> Iterator[bytes]:
        for number, line in enumerate(stream):
            if number == first + 1:  # the first lines are on Kafka; now take the topic away
                wait_until(lambda: len(read_all(kafka, activity)) == first, what="first records")
                with topic_admin.admin_client(kafka) as admin:
                    admin.delete_topics([activity])
                wait_until(lambda: topic_gone(kafka, activity), what="the topic to be deleted")
            yield line

    monkeypatch.setattr(publish_cmd, "_lines", lines_then_delete)
    flags = ["--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix]
    result = CliRunner().invoke(app, [*flags, "publish", str(source)])

    assert result.exit_code == 1, result.output
    assert f"published:  {first} acknowledged by Kafka" in result.output
    assert "rejected:   1" in result.output
    [sent] = [line for line in result.output.splitlines() if line.startswith("published:")]
    sent_count = int(sent.split(" of ")[1].split()[0])
    assert first <= sent_count <= first + rest
    assert f"failed:     {sent_count - first} " in result.output
    assert "error:" in result.output


def test_send_many_keeps_the_deliveries_made_before_a_failed_send(kafka: KafkaSettings) -> None:
    quick = ProducerSettings(max_block_ms=1000, request_timeout_ms=1000, delivery_timeout_s=3)
    with NurtureProducer(kafka, quick) as producer:
        real = producer._client
        calls = [0]

        class ThirdSendTimesOut:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def send(self, *args: Any, **kwargs: Any) -> Any:
                calls[0] += 1
                if calls[0] == 3:
                    raise KafkaTimeoutError("no metadata in time")
                return real.send(*args, **kwargs)

        producer._client = ThirdSendTimesOut()
        events = [page_view(f"cand-{i}") for i in range(5)]
        with pytest.raises(PublishTimeoutError) as raised:
            producer.send_many(events)
        producer._client = real
    partial = raised.value.partial
    assert partial is not None
    assert (partial.accepted, partial.unsent) == (2, 3)
    assert [d.event_id for d in partial.deliveries] == [e["event_id"] for e in events[:2]]
    assert all(d.get().offset >= 0 for d in partial.deliveries)
    assert len(read_all(kafka, kafka.topic(ACTIVITY))) == 2
