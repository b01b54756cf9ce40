"""The candidate table's changelog topic: made before faust starts, and required in every
assignment.

faust declares a table's changelog topic itself as the table starts, which on a fresh deployment
is *after* its consumer fetched the cluster metadata. The group leader assigns from that
metadata; a topic it does not know yet is left out of the assignment ("Ignoring missing topic"),
so the members get their source partitions without the changelog partitions, restore nothing,
and process on whatever their local store holds. Seen under ``nurture chaos``: a worker that
took over partitions 0-2 one second after start scored their events on empty rows, and every
candidate there lost the profile (and with it the consent behind 113 actions) while all
engagement scores still matched.

Two rules close it: :func:`ensure_changelog` creates the topic (compacted, co-partitioned with
the sources) before faust starts, so every member's first metadata has it; and
:func:`unrestorable` names the source partitions of an assignment whose changelog partition is
missing, which the worker refuses to process (:func:`require_changelog_partitions` exits with
75; the restart makes the group rebalance, except under static membership: docs/worker.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from kafka.errors import KafkaError

from schemas.errors import ConfigError
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings, min_insync_replicas
from streams.worker.liveness import EXIT_STALLED, crash_process

#: How faust keeps a table's changelog (a compacted topic: the latest row per key).
CHANGELOG_CONFIGS = {"cleanup.policy": "compact"}


def ensure_changelog(kafka: KafkaSettings, name: str, partitions: int) -> bool:
    """Create ``name`` with ``partitions`` partitions unless it exists; True when created.
    ConfigError when it exists with another partition count (rows would not be co-partitioned
    with their candidates' events) or is not compacted (rows would expire)."""
    with topic_admin.admin_client(kafka) as admin:
        if name not in set(admin.list_topics()):
            replication = kafka.replication_for(topic_admin.broker_count(admin))
            configs = {
                **CHANGELOG_CONFIGS,
                "min.insync.replicas": str(min_insync_replicas(replication)),
            }
            try:  # False: another worker made it meanwhile (checked below)
                created = topic_admin.create_topic(admin, name, partitions, replication, configs)
            except KafkaError as exc:
                raise ConfigError(f"cannot create the table changelog {name}: {exc}") from exc
            topic_admin.await_metadata(admin, {name})
            if created:
                return True
    found = topic_admin.describe_visible(kafka, [name])[name]
    if found.partitions != partitions:
        raise ConfigError(
            f"the table changelog {name} has {found.partitions} partitions, the source topics "
            f"{partitions}: delete it (the worker restores rows from it) or fix the sources"
        )
    if "compact" not in found.configs.get("cleanup.policy", "compact"):
        raise ConfigError(
            f"the table changelog {name} has cleanup.policy={found.configs['cleanup.policy']}: "
            "it must be compacted (a deleted segment would lose rows for good)"
        )
    return False


def unrestorable(assigned: Iterable[tuple[str, int]], source: str, changelog: str) -> list[int]:
    """Partitions of ``source`` in ``assigned`` (topic, partition) whose ``changelog`` partition
    is not assigned too: their rows would not be restored before their events are processed."""
    tps = set(assigned)
    return sorted(p for topic, p in tps if topic == source and (changelog, p) not in tps)


def require_changelog_partitions(app: Any, sources: Iterable[str], changelog: str) -> None:
    """On every assignment, exit (status 75) when a source partition came without its
    changelog partition, before faust restores or resumes anything."""
    names = tuple(sources)

    async def check(sender: Any, assigned: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        tps = [(tp.topic, tp.partition) for tp in assigned]
        missing = sorted({p for source in names for p in unrestorable(tps, source, changelog)})
        if missing:
            crash_process(
                f"the group's assignment left out {changelog} for partitions {missing} (the "
                "group leader's metadata did not list it): rows there would not be restored",
                EXIT_STALLED,
            )

    app.on_partitions_assigned.connect(cast(Any, check))
