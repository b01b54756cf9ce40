"""Topics are created as declared, idempotently, and conflicts are reported, never fixed."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError, UnknownTopicOrPartitionError

from schemas.errors import ConfigError, KafkaUnavailableError
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import (
    ACTIVITY,
    ENGAGEMENT,
    PROFILE,
    TOPICS,
    TOPICS_BY_NAME,
    retention_env_var,
)
from tests.kafka_helpers import unique


def test_every_declared_topic_exists_with_its_config(kafka: KafkaSettings) -> None:
    names = [kafka.topic(spec.name) for spec in TOPICS]
    states = topic_admin.describe(kafka, names)
    assert set(states) == set(names)
    for spec in TOPICS:
        state = states[kafka.topic(spec.name)]
        assert state.partitions == kafka.topic_partitions == 3
        assert state.replication == 1
        assert state.configs["cleanup.policy"] == spec.cleanup_policy
        if spec.retention_days is not None:
            assert state.configs["retention.ms"] == str(spec.retention_days * 86_400_000)
    assert states[kafka.topic(PROFILE)].configs["cleanup.policy"] == "compact"
    assert states[kafka.topic(ENGAGEMENT)].configs["cleanup.policy"] == "compact"
    assert states[kafka.topic(ACTIVITY)].configs["cleanup.policy"] == "delete"


def test_create_is_idempotent(kafka: KafkaSettings) -> None:
    report = topic_admin.create_all(kafka)
    assert report.created == []
    assert report.ok
    assert sorted(report.existing) == sorted(kafka.topic(s.name) for s in TOPICS)


def test_conflicting_topic_is_reported_not_altered(kafka_base: KafkaSettings) -> None:
    settings = kafka_base.model_copy(update={"topic_prefix": unique("conflict") + "."})
    engagement = settings.topic(ENGAGEMENT)
    with topic_admin.admin_client(settings) as admin:
        admin.create_topics(
            [NewTopic(engagement, 2, 1, topic_configs={"cleanup.policy": "delete"})]
        )
    report = topic_admin.create_all(settings)
    assert not report.ok
    diffs = report.conflicts[engagement]
    assert any(d.startswith("partitions: declared 3, found 2") for d in diffs)
    assert any(d.startswith("cleanup.policy: declared compact, found delete") for d in diffs)
    state = topic_admin.describe(settings, [engagement])[engagement]
    assert state.partitions == 2 and state.configs["cleanup.policy"] == "delete"
    assert set(report.conflicts) == {engagement}


def test_prefix_applies_to_every_topic(kafka: KafkaSettings) -> None:
    listed = topic_admin.list_topics(kafka)
    assert listed == sorted(kafka.topic(s.name) for s in TOPICS)
    assert all(name.startswith(kafka.topic_prefix) for name in listed)


def test_retention_is_configurable_per_topic(
    kafka_base: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(retention_env_var(ACTIVITY), "7")
    settings = kafka_base.model_copy(update={"topic_prefix": unique("retention") + "."})
    assert topic_admin.create_all(settings).ok
    name = settings.topic(ACTIVITY)
    state = topic_admin.describe(settings, [name])[name]
    assert state.configs["retention.ms"] == str(7 * 86_400_000)


def test_unreachable_cluster_is_a_clear_error() -> None:
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    with pytest.raises(KafkaUnavailableError, match=r"cannot reach Kafka at 127\.0\.0\.1:1"):
        topic_admin.create_all(settings)


def test_delete_prefixed_removes_only_that_deployment(kafka_base: KafkaSettings) -> None:
    doomed = kafka_base.model_copy(update={"topic_prefix": unique("doomed") + "."})
    kept = kafka_base.model_copy(update={"topic_prefix": unique("kept") + "."})
    assert topic_admin.create_all(doomed).ok and topic_admin.create_all(kept).ok
    deleted = topic_admin.delete_prefixed(doomed)
    assert sorted(deleted) == sorted(doomed.topic(s.name) for s in TOPICS)
    assert topic_admin.list_topics(doomed) == []
    assert len(topic_admin.list_topics(kept)) == len(TOPICS)
    topic_admin.delete_prefixed(kept)
    with pytest.raises(ValueError, match="without a prefix"):
        topic_admin.delete_prefixed(kafka_base.model_copy(update={"topic_prefix": ""}))


def test_bad_retention_override_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(retention_env_var(ACTIVITY), "a year")
    with pytest.raises(ConfigError, match="NURTURE_RETENTION_CANDIDATE_ACTIVITY: expected whole"):
        TOPICS_BY_NAME[ACTIVITY].retention_ms()


def test_an_undeclared_topic_is_made_once_and_deleting_it_twice_is_no_error(
    kafka_base: KafkaSettings,
) -> None:
    """The seam's create_topic/delete_topics, used by the worker's changelog, replay's reset
    and the benches: a second create says False (made elsewhere) instead of raising."""
    name = unique("seam-admin")
    with topic_admin.admin_client(kafka_base) as admin:
        assert topic_admin.create_topic(admin, name, 2, 1, {"cleanup.policy": "compact"})
        topic_admin.await_metadata(admin, {name})
        assert not topic_admin.create_topic(admin, name, 2, 1)
    state = topic_admin.describe(kafka_base, [name])[name]
    assert (state.partitions, state.configs["cleanup.policy"]) == (2, "compact")
    with topic_admin.admin_client(kafka_base) as admin:
        topic_admin.delete_topics(admin, [name])
        topic_admin.delete_topics(admin, [name])  # already gone (or going): no error
    assert name not in topic_admin.describe(kafka_base, [name])


def test_a_refused_delete_is_not_hidden_by_a_missing_topic() -> None:
    """kafka-python raises only the first error of a batch; a missing topic (ignored) beside a
    refused one must still fail, whatever their order in the answer."""

    class _Admin:
        def delete_topics(self, topics: list[str], raise_errors: bool = True) -> dict[str, Any]:
            assert raise_errors is False
            return {
                "topics": [
                    {"name": topics[0], "error_code": UnknownTopicOrPartitionError.errno},
                    {"name": topics[1], "error_code": TopicAuthorizationFailedError.errno},
                ]
            }

    admin: Any = _Admin()
    topic_admin.delete_topics(admin, [])  # nothing to delete: no request
    with pytest.raises(TopicAuthorizationFailedError, match="kept"):
        topic_admin.delete_topics(admin, ["gone", "kept"])
