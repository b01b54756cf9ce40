"""Create, list, describe and delete the declared topics through the admin API (`nurture topics`,
the worker's changelog check, replay, the benches and the tests)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka import errors as kafka_errors
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as KafkaTopicPartition

from schemas.errors import NurtureError
from schemas.kafka_seam import clients
from schemas.kafka_seam.connection_errors import connection_failures, unavailable
from schemas.kafka_seam.proto import TopicPartition
from schemas.settings import KafkaSettings, min_insync_replicas
from schemas.topics import TOPICS, TopicSpec


class TopicCreationError(NurtureError):
    """Raised when the cluster refuses to create a declared topic (e.g. too few brokers)."""


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str]
    #: The smallest in-sync replica set among its partitions (equal to ``replication`` when
    #: every copy is in sync).
    min_isr_size: int = 0
    #: Partitions with fewer in-sync replicas than replicas.
    under_replicated: tuple[int, ...] = ()
    #: Partitions without a leader (unavailable).
    offline: tuple[int, ...] = ()

    @property
    def min_insync(self) -> str | None:
        """The topic's ``min.insync.replicas`` (the broker's default when not set on it)."""
        return self.configs.get("min.insync.replicas")


@dataclass
class CreateReport:
    """What `topics create` did, topic by topic."""

    created: list[str] = field(default_factory=list)
    #: every declared topic present after the call (created now or found), checked for conflicts
    existing: list[str] = field(default_factory=list)
    #: topic -> human-readable differences between declaration and cluster
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.conflicts


@contextmanager
def admin_client(settings: KafkaSettings, timeout_s: float = 10.0) -> Iterator[KafkaAdminClient]:
    """A kafka-python admin client; raises KafkaUnavailableError when the cluster is down."""
    try:
        with connection_failures() as failures:
            client = clients.admin(
                settings,
                request_timeout_ms=int(timeout_s * 1000),
                bootstrap_timeout_ms=int(timeout_s * 1000),
                client_id="nurture-admin",
            )
    except (KafkaError, OSError) as exc:
        message = f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}"
        raise unavailable(message, failures, settings) from exc
    try:
        yield client
    finally:
        client.close()


def broker_count(admin: KafkaAdminClient) -> int:
    """Brokers of the cluster, including one that is down right now: the live ones, and
    every broker holding a copy of ``__consumer_offsets`` (a topic created while a broker is
    down must still get the cluster's replication, not one copy less for good)."""
    brokers = {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"]}
    if OFFSETS_TOPIC in admin.list_topics():
        for partition in admin.describe_topics([OFFSETS_TOPIC])[0]["partitions"]:
            brokers.update(int(node) for node in partition["replica_nodes"])
    return len(brokers)


#: Kafka's internal topic of committed offsets (replicated on every broker of a cluster up to
#: offsets.topic.replication.factor).
OFFSETS_TOPIC = "__consumer_offsets"


def cluster_brokers(settings: KafkaSettings) -> int:
    with admin_client(settings) as admin:
        return broker_count(admin)


def cluster_replication(settings: KafkaSettings) -> int:
    """The replication factor topics get on the cluster of ``settings`` (configured, or
    min(3, brokers))."""
    if settings.topic_replication is not None:
        return settings.topic_replication
    return settings.replication_for(cluster_brokers(settings))


def expected_configs(spec: TopicSpec, replication: int) -> dict[str, str]:
    """The topic's configs: its declaration's, with ``min.insync.replicas`` one below its
    replication unless the declaration sets it (a topic setting, so that acks=all writes go on
    while one copy is down and stop, instead of losing data, while two are)."""
    return {"min.insync.replicas": str(min_insync_replicas(replication)), **spec.configs()}


def differences(
    spec: TopicSpec, settings: KafkaSettings, actual: TopicState, brokers: int
) -> list[str]:
    """Pure comparison of a declaration with what a cluster of ``brokers`` holds ([] when
    they agree)."""
    diffs: list[str] = []
    replication = settings.replication_for(brokers)
    if actual.partitions != settings.topic_partitions:
        diffs.append(f"partitions: declared {settings.topic_partitions}, found {actual.partitions}")
    if actual.replication != replication:
        diffs.append(f"replication: declared {replication}, found {actual.replication}")
    for key, value in expected_configs(spec, replication).items():
        found = actual.configs.get(key)
        if found != value:
            diffs.append(f"{key}: declared {value}, found {found}")
    return diffs


def describe(settings: KafkaSettings, names: Iterable[str]) -> dict[str, TopicState]:
    """Partitions, replication and configs of the existing topics among ``names``."""
    wanted = list(names)
    with admin_client(settings) as admin:
        existing = set(admin.list_topics())
        present = [n for n in wanted if n in existing]
        if not present:
            return {}
        metadata = admin.describe_topics(present)
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in present]
        configs = _configs_by_topic(admin.describe_configs(resources))
    states: dict[str, TopicState] = {}
    for topic in metadata:
        if topic.get("error_code", 0) == UnknownTopicOrPartitionError.errno:
            continue  # this broker's metadata does not have it (yet): as if absent
        partitions = topic["partitions"]
        replication = len(partitions[0]["replica_nodes"]) if partitions else 0
        name = topic["name"]
        states[name] = TopicState(
            name,
            len(partitions),
            replication,
            configs.get(name, {}),
            min_isr_size=min((len(p["isr_nodes"]) for p in partitions), default=0),
            under_replicated=tuple(
                sorted(
                    p["partition_index"]
                    for p in partitions
                    if len(p["isr_nodes"]) < len(p["replica_nodes"])
                )
            ),
            offline=tuple(sorted(p["partition_index"] for p in partitions if p["leader_id"] < 0)),
        )
    return states


def describe_visible(
    settings: KafkaSettings, names: Iterable[str], timeout_s: float = 30.0
) -> dict[str, TopicState]:
    """:func:`describe` for topics known to exist. On a cluster each broker learns of a new
    topic on its own time, and every admin request may go to another broker: a worker that
    found the changelog (created by another worker a moment before) once asked a broker that
    did not list it yet and exited. Asked again until every name is described."""
    wanted = set(names)
    deadline = time.monotonic() + timeout_s
    while True:
        states = describe(settings, wanted)
        missing = wanted - states.keys()
        if not missing:
            return states
        if time.monotonic() > deadline:
            raise TopicCreationError(
                f"topics not visible after {timeout_s:.0f}s: {sorted(missing)}"
            )
        time.sleep(0.2)


def _configs_by_topic(response: Any) -> dict[str, dict[str, str]]:
    """Flatten kafka-python's describe_configs answer to topic -> {key: value}."""
    by_topic = response.get("topic", {}) if isinstance(response, dict) else {}
    return {
        topic: {key: str(entry.get("value")) for key, entry in entries.items()}
        for topic, entries in by_topic.items()
    }


def create_all(settings: KafkaSettings, specs: Iterable[TopicSpec] = TOPICS) -> CreateReport:
    """Create every declared topic that is missing; report the ones that differ.

    Idempotent: existing topics are compared, never altered ("fixes nothing silently").
    """
    specs = list(specs)
    report = CreateReport()
    names = {settings.topic(spec.name): spec for spec in specs}
    with admin_client(settings) as admin:
        brokers = broker_count(admin)
        replication = settings.replication_for(brokers)
        existing = set(admin.list_topics())
        missing = [
            NewTopic(
                name,
                settings.topic_partitions,
                replication,
                topic_configs=expected_configs(spec, replication),
            )
            for name, spec in names.items()
            if name not in existing
        ]
        for new_topic in missing:
            try:
                admin.create_topics([new_topic], validate_only=False)
                report.created.append(new_topic.name)
            except TopicAlreadyExistsError:
                existing.add(new_topic.name)  # created concurrently: compare below
            except KafkaError as exc:
                raise TopicCreationError(
                    f"cannot create {new_topic.name} ({settings.topic_partitions} partitions, "
                    f"replication {replication} on {brokers} brokers): {exc}"
                ) from exc
        if report.created:
            await_metadata(admin, set(report.created))
    present = [n for n in names if n in existing or n in report.created]
    for name, state in describe_visible(settings, present).items():
        report.existing.append(name)
        diffs = differences(names[name], settings, state, brokers)
        if diffs:
            report.conflicts[name] = diffs
    return report


def await_metadata(admin: KafkaAdminClient, names: set[str], timeout_s: float = 30.0) -> None:
    """Wait until the broker's metadata lists ``names`` (creation completes asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while not names <= set(admin.list_topics()):
        if time.monotonic() > deadline:
            missing = sorted(names - set(admin.list_topics()))
            raise TopicCreationError(
                f"created topics not visible after {timeout_s:.0f}s: {missing}"
            )
        time.sleep(0.1)


def list_topics(settings: KafkaSettings) -> list[str]:
    """Topic names in the cluster with this deployment's prefix (internal ``__*`` left out)."""
    with admin_client(settings) as admin:
        return sorted(
            t
            for t in admin.list_topics()
            if t.startswith(settings.topic_prefix) and not t.startswith("__")
        )


def delete_prefixed(settings: KafkaSettings) -> list[str]:
    """Delete every topic whose name starts with the settings' (non-empty) prefix.

    For throw-away deployments such as test runs; refuses an empty prefix.
    """
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix")
    with admin_client(settings) as admin:
        doomed = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        delete_topics(admin, doomed)
    return doomed


def create_topic(  # noqa: PLR0913 - one topic's shape, and whether to wait for its leaders
    admin: KafkaAdminClient,
    name: str,
    partitions: int,
    replication: int,
    configs: Mapping[str, str] | None = None,
    *,
    wait: bool = False,
) -> bool:
    """Create one topic that is not declared in :data:`~schemas.topics.TOPICS` (a table
    changelog, a sandbox, a bench's throw-away topic); False when it exists already (another
    process made it meanwhile, or its deletion is still completing). ``wait``: return once
    every partition has a leader (kafka-python's ``wait_for_metadata``). Other refusals raise
    ``KafkaError``."""
    topic = NewTopic(name, partitions, replication, topic_configs=dict(configs or {}))
    try:
        admin.create_topics([topic], wait_for_metadata=wait)
    except TopicAlreadyExistsError:
        return False
    return True


def delete_topics(admin: KafkaAdminClient, names: Iterable[str]) -> None:
    """Delete ``names``; one that is already gone is no error, any other refusal of any of them
    raises (kafka-python would raise the first error of the batch only, so a missing topic could
    hide a refused one)."""
    doomed = list(names)
    if not doomed:
        return
    answer = admin.delete_topics(doomed, raise_errors=False)
    for topic in answer.get("topics", []):
        error = kafka_errors.for_code(topic.get("error_code", 0))
        if error is not kafka_errors.NoError and error is not UnknownTopicOrPartitionError:
            raise error(f"cannot delete {topic.get('name')}")


def live_broker_count(admin: KafkaAdminClient) -> int:
    """Brokers up now (a throw-away topic asks no more copies than that; declared topics use
    :func:`broker_count`, which counts a broker that is down too)."""
    return len(admin.describe_cluster()["brokers"])


def group_members(settings: KafkaSettings, group: str) -> list[str]:
    """Client hosts (else ids) of the active members of consumer group ``group``; empty: none."""
    with admin_client(settings) as admin:
        described = admin.describe_groups([group]).get(group, {})
    members = described.get("members") or []
    return [str(m.get("client_host") or m.get("client_id") or "?") for m in members]


def set_group_offsets(
    settings: KafkaSettings, group: str, offsets: Mapping[TopicPartition, int]
) -> dict[TopicPartition, str]:
    """Set ``group``'s committed offsets (it must have no active members); the partitions the
    broker refused, with the error's name (empty: all set)."""
    with admin_client(settings) as admin:
        errors = admin.alter_group_offsets(
            group,
            {
                KafkaTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "", -1)
                for tp, offset in offsets.items()
            },
        )
    return {  # kafka-python gives each partition's error class (NoError, errno 0, when set)
        TopicPartition(tp.topic, tp.partition): getattr(error, "__name__", str(error))
        for tp, error in (errors or {}).items()
        if error is not None and getattr(error, "errno", None)
    }
