"""Where the worker's processors write: the table's store and the output topics.

:class:`Outputs` also dead-letters a record the processors refuse (the original bytes and
headers, with the reason, to the dead-letter topic of its source topic).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import WrongPartitionError
from streams.worker.dlq import dead_letter
from streams.worker.erasure import ErasureMarks
from streams.worker.metrics import WorkerMetrics, dead_letter_reason
from streams.worker.outbox import Outbox
from streams.worker.row_store import RowStore
from streams.worker.step import Step
from streams.worker.wire import WorkerCodecs, single_object_codecs

log = logging.getLogger(__name__)

#: A consumed record: faust's ``Message`` or aiokafka's ``ConsumerRecord`` (both have ``topic``,
#: ``partition``, ``offset``, ``key``, ``value`` and ``headers``).
Record = Any


@dataclass
class Outputs:
    """Where a processor's results go: the table's store, and the output topics (full names)."""

    #: The faust table; rows are written to ``table.data`` (the local store) directly.
    table: Any
    changelog: str
    engagement: str
    #: Dead-letter topic per source topic.
    dlq: Mapping[str, str]
    #: Partition count of every output topic.
    partitions: Mapping[str, int]
    metrics: WorkerMetrics
    #: Markers of erased candidates (None: erasure requests only delete the row).
    erasure: ErasureMarks | None = None
    #: ``candidate.suppression`` (full name): each candidate's unsubscribes, for delivery
    #: (None: not published).
    suppression: str | None = None
    #: What records are encoded and decoded with (default: single-object framing, the
    #: Schema Registry mode off; streams/worker/wire.py).
    codecs: WorkerCodecs = field(default_factory=single_object_codecs)

    def __post_init__(self) -> None:
        self.rows = RowStore(self.table)
        # Every source partition's count exists from the start, at 0: Prometheus's increase()
        # ignores a series' first sample, so one born at its first misplaced record would never
        # fire NurtureRecordsOnWrongPartition for a one-off burst.
        for topic in self.dlq:
            for partition in range(self.source_partitions):
                self.metrics.wrong_partition.labels(topic, str(partition))

    @property
    def source_partitions(self) -> int:
        """Partition count of the source topics: the changelog's (they are co-partitioned with
        the table, which the worker checks at start-up)."""
        return self.partitions[self.changelog]

    def step(self) -> Step:
        """A new processing step writing to this table and these topics."""
        return Step(self.rows, Outbox(self.partitions), self.changelog)

    def erased(self, step: Step, partition: int, candidate_id: str) -> bool:
        """True when ``candidate_id`` was erased (a marker is in the table)."""
        marks = self.erasure
        return marks is not None and step.get(partition, marks.key(candidate_id)) is not None

    def dead_letter(self, outbox: Outbox, message: Record, error: BaseException) -> None:
        """Queue the original record for its dead-letter topic and log why."""
        letter = dead_letter(
            key=message.key,
            value=message.value,
            headers=message.headers,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=error,
        )
        topic = self.dlq[message.topic]
        outbox.add(topic, letter.key, letter.value, headers=letter.headers)
        self.metrics.dead_letters.labels(topic, dead_letter_reason(error)).inc()
        if isinstance(error, WrongPartitionError):
            self.metrics.wrong_partition.labels(message.topic, str(message.partition)).inc()
        log.warning(  # the message is bounded: it may quote ids, and a bad id can be long
            "%s[%d] offset=%d dead-lettered: %s: %.300s",
            message.topic,
            message.partition,
            message.offset,
            type(error).__name__,
            error,
        )
