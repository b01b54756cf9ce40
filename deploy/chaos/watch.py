"""Committed offsets over time: a thread that snapshots consumer groups' positions.

One admin client (committed offsets of every watched group in one request) and one consumer
without a group (end offsets), both kept for the whole run, so a snapshot every quarter second
costs two small requests instead of a new client each time (:func:`streams.worker.probe.
group_offsets` makes one per call, which is fine for a single check).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from deploy.chaos.progress import PartitionId, Position, Snapshot
from schemas.kafka_seam import clients, topic_admin
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Seconds between two snapshots.
INTERVAL_S = 0.25
#: Failed snapshots in a row after which both clients are made anew.
RECONNECT_AFTER = 8
#: Longest wait of one snapshot's requests (seconds). kafka-python's own default (30 s for the
#: end offsets) froze the run's view for minutes after a broker was killed: eight failures in a
#: row, each one waiting out a request to the dead broker, before the clients were made anew.
REQUEST_TIMEOUT_S = 5.0


class OffsetWatch:
    """Snapshots of ``groups`` (group id -> the full names of the topics it consumes)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        groups: Mapping[str, Sequence[str]],
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.kafka = kafka
        self.groups = {group: tuple(topics) for group, topics in groups.items()}
        self.interval_s = interval_s
        self._snapshots: list[Snapshot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: The last error a snapshot failed with (None after a good one).
        self.last_error: str | None = None
        #: Snapshots that failed in the whole run.
        self.failed_snapshots = 0

    def start(self) -> OffsetWatch:
        self._thread = threading.Thread(target=self._run, name="chaos-offset-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def latest(self) -> Snapshot | None:
        with self._lock:
            return self._snapshots[-1] if self._snapshots else None

    def snapshots(self) -> list[Snapshot]:
        with self._lock:
            return list(self._snapshots)

    def _run(self) -> None:
        """Snapshot until stopped; after :data:`RECONNECT_AFTER` failed snapshots in a row the
        clients are made anew (a client wedged under load must not freeze the run's view)."""
        while not self._stop.is_set():
            try:
                self._watch_with_new_clients()
            except Exception as exc:  # a dead watch must show, not hang the run's waits
                self.last_error = f"the offset watch restarts: {type(exc).__name__}: {exc}"
                log.warning("offset watch failed, reconnecting: %s", exc)
                self._stop.wait(self.interval_s)

    def _watch_with_new_clients(self) -> None:
        consumer = clients.consumer(self.kafka, enable_auto_commit=False)
        try:
            with topic_admin.admin_client(self.kafka, timeout_s=REQUEST_TIMEOUT_S) as admin:
                partitions = {
                    group: [
                        TopicPartition(topic, p)
                        for topic in topics
                        for p in sorted(consumer.partitions_for_topic(topic) or ())
                    ]
                    for group, topics in self.groups.items()
                }
                failures = 0
                while not self._stop.is_set():
                    try:
                        snapshot = self._snapshot(admin, consumer, partitions)
                    except KafkaError as exc:  # e.g. the coordinator moving: try again
                        failures += 1
                        self.failed_snapshots += 1
                        self.last_error = f"{type(exc).__name__}: {exc}"
                        log.debug("offset snapshot failed: %s", exc)
                        if failures >= RECONNECT_AFTER:
                            raise
                    else:
                        failures = 0
                        self.last_error = None
                        with self._lock:
                            self._snapshots.append(snapshot)
                    self._stop.wait(self.interval_s)
        finally:
            consumer.close()

    def age_s(self) -> float | None:
        """Seconds since the latest snapshot (None: none yet)."""
        latest = self.latest()
        return None if latest is None else time.monotonic() - latest.at

    def _snapshot(
        self,
        admin: KafkaAdminClient,
        consumer: KafkaConsumer,
        partitions: Mapping[str, list[TopicPartition]],
    ) -> Snapshot:
        committed = admin.list_group_offsets({group: None for group in partitions})
        every = [tp for tps in partitions.values() for tp in tps]
        ends = consumer.end_offsets(every, timeout_ms=int(REQUEST_TIMEOUT_S * 1000))
        at = time.monotonic()
        positions: dict[PartitionId, Position] = {}
        for group, tps in partitions.items():
            offsets = committed.get(group) or {}
            for tp in tps:
                found = offsets.get(tp)
                offset = found.offset if found is not None and found.offset >= 0 else 0
                positions[PartitionId(tp.topic, tp.partition)] = Position(offset, ends[tp])
        return Snapshot(at, positions)
