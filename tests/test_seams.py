"""The seams around faust's, aiokafka's and kafka-python's private members: their start-up
checks pass on the pinned versions and fail in one line, naming library, version and member,
when a member is gone (the worker then exits 2 before it starts, without a traceback)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from typing import Any

import faust
import pytest
from faust.types import TP

from producers import kafka_python_seam
from schemas.errors import ConfigError
from schemas.settings import KafkaSettings
from streams.worker import aiokafka_seam, faust_seam


def test_the_installed_libraries_have_every_member_the_seams_use() -> None:
    assert faust_seam.missing_members() == []
    assert aiokafka_seam.missing_members() == []
    assert kafka_python_seam.missing_members() == []
    faust_seam.check()
    aiokafka_seam.check()
    kafka_python_seam.check()


def test_the_installed_versions_are_the_tested_ones() -> None:
    assert version("faust-streaming") == faust_seam.TESTED_VERSION
    assert version("aiokafka") == aiokafka_seam.TESTED_VERSION
    assert version("kafka-python") == kafka_python_seam.TESTED_VERSION


def test_a_missing_faust_member_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = faust_seam.PRIVATE_MEMBERS[0][0]
    monkeypatch.setattr(
        faust_seam,
        "PRIVATE_MEMBERS",
        (*faust_seam.PRIVATE_MEMBERS, (consumer, "_gone_in_a_new_release", "a test")),
    )
    with pytest.raises(ConfigError) as raised:
        faust_seam.check()
    message = str(raised.value)
    assert "\n" not in message
    assert f"faust-streaming {version('faust-streaming')}" in message
    assert "_gone_in_a_new_release (needed by a test)" in message


def test_an_attribute_aiokafka_no_longer_sets_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    fetcher = aiokafka_seam.PRIVATE_MEMBERS[1][0]
    monkeypatch.setattr(
        aiokafka_seam,
        "PRIVATE_MEMBERS",
        ((fetcher, "__init__", "_renamed_min_bytes", "a test"),),
    )
    with pytest.raises(ConfigError, match=r"aiokafka .* lacks .*_renamed_min_bytes"):
        aiokafka_seam.check()


def test_a_missing_kafka_python_member_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    sender = kafka_python_seam.PRIVATE_MEMBERS[2][0]
    monkeypatch.setattr(kafka_python_seam, "PRIVATE_MEMBERS", ((sender, "gone", "", "a test"),))
    with pytest.raises(ConfigError, match=r"kafka-python .* lacks .*Sender\.gone"):
        kafka_python_seam.check()


@pytest.mark.kafka
def test_the_worker_refuses_to_start_on_a_faust_without_a_member(kafka: KafkaSettings) -> None:
    """A real `nurture worker` on a faust whose consumer lost ``_add_gap`` (deleted before the
    CLI runs): exit 2 (a configuration error) and one line naming it, before it joins the group."""
    script = (
        "import sys\n"
        "from faust.transport.consumer import Consumer\n"
        "del Consumer._add_gap\n"
        "from deploy.cli.main import app\n"
        "sys.argv = ['nurture', '--topic-prefix', sys.argv[1], 'worker', '--store', 'memory://']\n"
        "app()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, kafka.topic_prefix],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "faust-streaming 0.15.3 lacks" in result.stderr and "_add_gap" in result.stderr


def test_recovery_seeks_a_partition_whose_offset_was_never_built_to_its_start() -> None:
    """faust's recovery can be asked to seek a standby partition a rebalance added while the
    actives were restored (its offset still None): aiokafka refuses None and the worker
    crashed. Guarded, it seeks that partition to 0, as faust does for -1."""
    built, added = TP("changelog", 0), TP("changelog", 1)

    class Consumer:
        def __init__(self) -> None:
            self.sought: dict[TP, Any] = {}

        async def seek_wait(self, offsets: dict[TP, Any]) -> None:
            self.sought = dict(offsets)

    async def seek(guarded: bool) -> dict[TP, Any]:
        app = faust.App(f"seam-{guarded}", autodiscover=False)
        if guarded:
            faust_seam.guard_recovery_seeks(app)
        consumer = Consumer()
        offsets: Counter[TP] = Counter({built: 41})
        offsets.setdefault(added, None)  # type: ignore[arg-type]  # as faust's Recovery._add
        recovery: Any = app.tables.recovery  # type: ignore[attr-defined]
        await recovery._seek_offsets(consumer, {built, added}, offsets, "standby")
        return consumer.sought

    assert asyncio.run(seek(guarded=False)) == {built: 41, added: None}  # what crashed
    assert asyncio.run(seek(guarded=True)) == {built: 41, added: 0}
