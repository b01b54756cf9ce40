"""Resetting the worker's state for a rebuild: group check, changelog, local store, offsets.

faust keeps a table in two places: the changelog topic (the truth) and each worker's local
store (a cache with the changelog offset it has persisted). A rebuild replaces both: the
changelog is deleted and created again empty with the same partitions and configs (a compacted
topic cannot be emptied otherwise), the local store directory is removed, so a worker started
afterwards recovers its table from the new changelog, and the group's committed offsets are set
to where the rebuild stopped reading, so the worker goes on from there.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from schemas.kafka_seam import topic_admin
from schemas.kafka_seam.proto import TopicPartition
from schemas.settings import KafkaSettings
from streams.replay.errors import GroupActiveError, ReplayError

#: How long to wait for the broker to finish deleting or creating the changelog (seconds).
TOPIC_TIMEOUT_S = 60.0


def ensure_idle(kafka: KafkaSettings, group: str) -> None:
    """Raise :class:`GroupActiveError` when ``group`` has active members."""
    members = topic_admin.group_members(kafka, group)
    if members:
        raise GroupActiveError(group, members)


def recreate_topic(kafka: KafkaSettings, name: str, *, partitions: int) -> None:
    """Delete ``name`` and create it again, empty, with its old partitions and configs (a
    missing topic is created compacted with ``partitions``, as faust would create it)."""
    state = topic_admin.describe(kafka, [name]).get(name)
    configs = dict(state.configs) if state else {"cleanup.policy": "compact"}
    count = state.partitions if state else partitions
    replication = state.replication if state else topic_admin.cluster_replication(kafka)
    with topic_admin.admin_client(kafka) as admin:
        if state is not None:
            topic_admin.delete_topics(admin, [name])
            _wait(lambda: name not in admin.list_topics(), f"{name} to be deleted")
        deadline = time.monotonic() + TOPIC_TIMEOUT_S
        # False while the controller is still completing the deletion
        while not topic_admin.create_topic(admin, name, count, replication, configs, wait=True):
            if time.monotonic() > deadline:
                raise ReplayError(f"could not create {name} again after deleting it")
            time.sleep(0.5)


def clear_local_store(data_dir: Path, app_id: str) -> Path | None:
    """Remove the worker's local table stores of ``app_id`` under ``data_dir`` (returns the
    directory removed, None when there was none)."""
    store = data_dir / app_id
    if not store.exists():
        return None
    shutil.rmtree(store)
    return store


def commit_offsets(kafka: KafkaSettings, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Set ``group``'s committed offsets (the group must have no active members)."""
    failed = topic_admin.set_group_offsets(kafka, group, offsets)
    if failed:
        raise ReplayError(f"could not set the offsets of {group}: {failed}")


def _wait(condition: object, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + TOPIC_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise ReplayError(f"timed out after {TOPIC_TIMEOUT_S:.0f}s waiting for {what}")
        time.sleep(0.2)
