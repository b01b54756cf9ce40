"""Delivery's views and a schema registry that does not answer (issue #18), without a broker.

The views (profiles, unsubscribes, outcomes) read the in-memory twin of the Kafka seam, their
codecs a stand-in registry that can be switched off: a record whose schema id is not cached
while the registry is down stops the view there (nothing after it applied, nothing skipped) and
is read once the registry answers; a record that can never decode is skipped as before.
:class:`~consumers.registry_wait.RegistryWait` is the loop's account of such a wait. The loop
holding its sends is tested against the real broker and registry in
tests/test_schema_registry_producers_delivery.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumers.codecs import DeliveryCodecs, delivery_codecs
from consumers.liveness import CommitWatch
from consumers.metrics import DeliveryMetrics
from consumers.mirror import TopicMirror, ViewStalledError
from consumers.outcome_index import OutcomeIndex
from consumers.profiles import ERASED, ProfileState
from consumers.registry_wait import MAX_WAIT_S, RegistryWait, next_wait_s, wait_cap_s
from consumers.suppression import SuppressionState
from schemas.codec import codec_for, default_codec
from schemas.errors import (
    SchemaRegistryAuthError,
    SchemaRegistryUnavailableError,
    UnknownSchemaIdError,
)
from schemas.kafka_seam.memory import MemoryCluster
from schemas.kafka_seam.proto import TopicReader
from schemas.privacy.kek import KeyEncryptionKeys, new_kek_text, parse_kek
from schemas.schema_registry import framing
from schemas.schema_registry.codec import ConfluentCodec
from schemas.schema_registry.resolver import SchemaIdResolver
from schemas.schema_registry.subjects import schema_text
from schemas.settings import KafkaSettings
from schemas.topics import DELIVERY, KEYS, PROFILE, SUPPRESSION
from tests.test_delivery_support import NOW
from tests.test_schema_registry_units import RECORDS, Clock, FakeRegistry

KAFKA = KafkaSettings(topic_prefix="unit.")
#: Ids the views' codecs did not cache at start (registered later, as by a newer writer).
SUPPRESSION_ID, ERASURE_ID, OUTCOME_ID = 11, 12, 13


def _text(subject: str) -> str:
    return schema_text(default_codec().subject(subject).reader.schema)


@dataclass
class Views:
    """The twin cluster, the stand-in registry and its clock, and the views' codecs."""

    cluster: MemoryCluster
    registry: FakeRegistry
    clock: Clock
    codecs: DeliveryCodecs

    def write(self, topic: str, key: str, value: bytes) -> None:
        self.cluster.append(KAFKA.topic(topic), key.encode(), value, partition=0)

    def confluent(self, subject: str, schema_id: int, record: dict[str, Any]) -> bytes:
        """``record`` framed the Confluent way with ``schema_id`` (the single-object body)."""
        return framing.header(schema_id) + codec_for(subject).encode(record)[10:]


@pytest.fixture
def views(monkeypatch: pytest.MonkeyPatch) -> Views:
    """Views on the twin: one partition per topic; the registry knows the outcomes' schema at
    start (delivery looks it up), and the ids above only once a test registers them."""
    cluster = MemoryCluster()
    for topic in (PROFILE, SUPPRESSION, DELIVERY, KEYS):
        cluster.admin().create_topic(KAFKA.topic(topic), 1, {})

    def twin_reader(_mirror: TopicMirror) -> TopicReader:
        return cluster.reader()

    monkeypatch.setattr(TopicMirror, "_connect", twin_reader)
    registry, clock = FakeRegistry({1: _text("delivery_outcome")}), Clock()
    codec = default_codec()
    resolver = SchemaIdResolver(registry, codec.catalog, clock=clock)
    codecs = delivery_codecs(ConfluentCodec(codec, registry, resolver, topic_prefix="unit."))
    return Views(cluster, registry, clock, codecs)


def _unsubscribed(candidate_id: str, channel: str, hours: int) -> dict[str, Any]:
    when = NOW + timedelta(hours=hours)
    return {"candidate_id": candidate_id, "unsubscribed": {channel: when}, "updated_at": when}


def test_a_suppression_view_waits_at_a_record_the_registry_must_resolve(views: Views) -> None:
    """The unsubscribe from all channels must not be skipped: the view stops before it, keeps
    what came before, applies nothing after it, and reads on once the registry answers."""
    single = codec_for("candidate_suppression")
    views.write(SUPPRESSION, "c1", single.encode(_unsubscribed("c1", "email", 1)))
    views.write(
        SUPPRESSION,
        "c1",
        views.confluent("candidate_suppression", SUPPRESSION_ID, _unsubscribed("c1", "all", 2)),
    )
    views.write(SUPPRESSION, "c2", single.encode(_unsubscribed("c2", "email", 3)))
    views.registry.schemas[SUPPRESSION_ID] = _text("candidate_suppression")
    views.registry.down = True
    with closing(SuppressionState(KAFKA, codecs=views.codecs)) as suppressions:
        for retry_after_s in (5.0, 5.0):  # asked, then failing fast within the window
            with pytest.raises(ViewStalledError) as stalled:
                suppressions.catch_up()
            error = stalled.value
            assert (error.topic, error.partition, error.offset) == (
                "unit.candidate.suppression",
                0,
                1,
            )
            assert error.retriable and error.retry_after_s == retry_after_s
            assert suppressions.get("c1") == {"email": NOW + timedelta(hours=1)}
            assert suppressions.get("c2") == {}, "nothing after the record is applied"
        assert views.registry.requests == 1
        views.registry.down = False
        views.clock.now += 5
        suppressions.catch_up()
        assert suppressions.get("c1") == {"all": NOW + timedelta(hours=2)}
        assert suppressions.get("c2") == {"email": NOW + timedelta(hours=3)}


def test_records_that_can_never_decode_are_skipped_as_before(views: Views) -> None:
    """An id the registry does not know, and bytes too short for a frame: skipped (logged),
    the candidate keeps their previous record; the view does not wait for them."""
    single = codec_for("candidate_suppression")
    views.write(SUPPRESSION, "c1", single.encode(_unsubscribed("c1", "email", 1)))
    unknown = views.confluent("candidate_suppression", 404, _unsubscribed("c1", "all", 2))
    views.write(SUPPRESSION, "c1", unknown)
    views.write(SUPPRESSION, "c3", b"\x00\x00")
    views.write(SUPPRESSION, "c2", single.encode(_unsubscribed("c2", "email", 3)))
    with closing(SuppressionState(KAFKA, codecs=views.codecs)) as suppressions:
        suppressions.catch_up()
        assert suppressions.get("c1") == {"email": NOW + timedelta(hours=1)}
        assert suppressions.get("c2") == {"email": NOW + timedelta(hours=3)}
    with pytest.raises(UnknownSchemaIdError):
        views.codecs.decode_suppression(unknown)


def test_the_profile_and_outcome_views_wait_too(views: Views) -> None:
    """An erasure marker, and an outcome another process recorded (missing it would send
    the action twice), with ids not cached while the registry is down."""
    erasure = {**RECORDS["erasure_request"], "candidate_id": "c-gone"}
    views.write(PROFILE, "c-gone", views.confluent("erasure_request", ERASURE_ID, erasure))
    outcome = {**RECORDS["delivery_outcome"], "action_id": "a-1", "channel": "webhook"}
    views.write(DELIVERY, "c1", views.confluent("delivery_outcome", OUTCOME_ID, outcome))
    views.registry.schemas |= {ERASURE_ID: _text("erasure_request"), OUTCOME_ID: "later"}
    views.registry.down = True
    keks = KeyEncryptionKeys(parse_kek(new_kek_text(), where="test"))
    with (
        closing(ProfileState(KAFKA, keks, codecs=views.codecs)) as profiles,
        closing(OutcomeIndex(KAFKA, "webhook", codecs=views.codecs)) as done,
    ):
        for view in (profiles, done):
            with pytest.raises(ViewStalledError, match=r"offset=0: view waits there"):
                view.catch_up()
        assert profiles.get("c-gone") is None and "a-1" not in done
        views.registry.down = False
        views.registry.schemas[OUTCOME_ID] = _text("delivery_outcome")
        views.clock.now += 5
        profiles.catch_up()
        done.catch_up()
        assert profiles.get("c-gone") == ERASED and "a-1" in done


def test_a_registry_refusing_the_credentials_stalls_the_view_for_good(views: Views) -> None:
    """Not retriable: the loop ends the process (as for refused Kafka credentials) rather
    than skip a record or wait for ever."""

    def refusing(schema_id: int) -> str:
        raise SchemaRegistryAuthError(views.registry.url, "HTTP 401: refused the credentials")

    views.registry.schema_by_id = refusing  # type: ignore[method-assign]
    record = _unsubscribed("c1", "all", 1)
    views.write(SUPPRESSION, "c1", views.confluent("candidate_suppression", 99, record))
    with (
        closing(SuppressionState(KAFKA, codecs=views.codecs)) as suppressions,
        pytest.raises(ViewStalledError) as stalled,
    ):
        suppressions.catch_up()
    assert not stalled.value.retriable


# -- the loop's account of the wait -----------------------------------------------------------


def test_the_wait_follows_the_registry_window_with_a_growing_floor_and_a_cap() -> None:
    assert [next_wait_s(n, 5.0) for n in (1, 2, 3)] == [5.0, 5.0, 5.0]
    assert [next_wait_s(n, None) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [next_wait_s(n, 0.0) for n in (1, 2)] == [0.5, 1.0]  # a window of 0: no busy loop
    assert next_wait_s(50, None) == next_wait_s(1, 600.0) == MAX_WAIT_S


def test_the_loop_never_pauses_past_half_the_poll_interval_or_the_stall_timeout() -> None:
    """With MAX_POLL_INTERVAL_S=30 a 60 s pause had the group drop the consumer at every wait,
    and with a stall timeout under 60 s the watch ended the process (review finding)."""
    assert wait_cap_s(300.0, 300.0) == 150.0 > MAX_WAIT_S  # the defaults: next_wait_s rules
    assert wait_cap_s(30.0, 300.0) == 15.0
    assert wait_cap_s(300.0, 40.0) == 20.0
    assert wait_cap_s(30.0, None) == 15.0  # no watch


@pytest.fixture
def wait_and_watch() -> Iterator[tuple[RegistryWait, CollectorRegistry, CommitWatch]]:
    registry = CollectorRegistry()
    watch = CommitWatch(300.0)
    topics = ["p.candidate.profile", "p.candidate.suppression", "p.nurture.delivery"]
    yield RegistryWait(DeliveryMetrics(registry), topics, watch), registry, watch


def _waiting(registry: CollectorRegistry, topic: str) -> float | None:
    return registry.get_sample_value(
        "nurture_delivery_view_waiting_for_schema_registry", {"topic": topic}
    )


def test_a_wait_is_reported_in_the_log_the_gauge_and_health_and_cleared_after(
    wait_and_watch: tuple[RegistryWait, CollectorRegistry, CommitWatch],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wait, registry, watch = wait_and_watch
    assert _waiting(registry, "p.candidate.suppression") == 0.0  # every series from the start
    cause = SchemaRegistryUnavailableError("http://sr.test", "ConnectError", retry_after_s=10)
    error = ViewStalledError("p.candidate.suppression", 2, 41, cause)
    with caplog.at_level(logging.INFO, logger="consumers.registry_wait"):
        assert wait.stalled(error) == 10.0
        assert wait.stalled(error) == 10.0
    assert _waiting(registry, "p.candidate.suppression") == 1.0
    assert _waiting(registry, "p.candidate.profile") == 0.0
    assert watch.status()["waiting_for"] == "schema registry (p.candidate.suppression)"
    first = caplog.records[0]
    assert first.levelno == logging.WARNING
    assert "p.candidate.suppression[2] offset=41" in first.getMessage()
    assert "sends held" in first.getMessage()
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="consumers.registry_wait"):
        wait.caught_up()
        wait.caught_up()  # nothing held: nothing said
    assert _waiting(registry, "p.candidate.suppression") == 0.0
    assert watch.status()["waiting_for"] is None
    assert [r.getMessage().split(" after")[0] for r in caplog.records] == ["views caught up"]
    assert wait.tries == 0 and wait.since is None


def test_the_gauge_follows_the_view_that_waits(
    wait_and_watch: tuple[RegistryWait, CollectorRegistry, CommitWatch],
) -> None:
    wait, registry, _ = wait_and_watch
    cause = SchemaRegistryUnavailableError("http://sr.test", "timeout")
    wait.stalled(ViewStalledError("p.candidate.profile", 0, 1, cause))
    wait.stalled(ViewStalledError("p.nurture.delivery", 0, 7, cause))
    assert _waiting(registry, "p.candidate.profile") == 0.0
    assert _waiting(registry, "p.nurture.delivery") == 1.0
    assert wait.tries == 2
