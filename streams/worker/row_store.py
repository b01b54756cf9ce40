"""Reading and writing candidate rows in the table's local store, by partition, in bulk.

faust's ``table.data[key]`` goes through its serializer registry and picks the partition from
the current event (a context variable): several microseconds per access on the hot path. For
the RocksDB store this adapter talks to the partition's rocksdict database directly, with one
``WriteBatch`` per partition and processing batch (the same raw-mode calls faust's own changelog
recovery makes). Other stores (``memory://`` in tests) go through the faust store API.

**Local writes follow Kafka, never lead it.** A batch's writes first go to an overlay
(:class:`Writes`) that reads see at once; they reach the local store only in :meth:`commit`,
which the agent calls after every record the batch produced (changelog, engagement, actions)
was acknowledged by Kafka, and which then records the changelog offsets as persisted. So a
crash at any point leaves the local store at or behind the changelog, never ahead: on restart
faust recovers the missing rows from the changelog and the uncommitted events come back as
duplicates of exactly the state whose output is in Kafka. (The reverse order would leave rows
that say "done" for outputs that never reached Kafka: a lost action.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rocksdict import WriteBatch

from streams.worker import faust_seam

#: Records the changelog offset persisted for a partition (``set_persisted_offset``).
OnPersisted = Callable[[int, int], None]


@dataclass
class Writes:
    """The row writes of one processing step (a batch or a timer tick), not yet committed."""

    rows: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


class RowStore:
    """Rows of one table's local store, with an overlay of writes not yet committed."""

    def __init__(self, table: Any) -> None:
        self.table = table
        #: key -> (row, the Writes that wrote it last) for writes not committed yet.
        self._overlay: dict[bytes, tuple[bytes | None, Writes]] = {}
        self._checked: object = None
        self._is_direct = False

    @property
    def _direct(self) -> bool:
        store = self.table.data
        if store is not self._checked:  # asked on every read: decided once per store object
            self._checked = store
            self._is_direct = faust_seam.is_rocksdict_store(store)
        return self._is_direct

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The row of ``key`` (on ``partition``, the partition of the candidate's events)."""
        pending = self._overlay.get(key)
        if pending is not None:
            return pending[0]
        store = self.table.data
        if self._direct:
            value: bytes | None = faust_seam.partition_db(store, partition).get(key)
            return value
        stored: bytes | None = store.get(key)
        return stored

    def put(self, writes: Writes, partition: int, key: bytes, row: bytes | None) -> None:
        """Write (None: delete) the row of ``key`` on ``partition`` as part of ``writes``."""
        writes.rows.append((partition, key, row))
        self._overlay[key] = (row, writes)

    def commit(
        self, writes: Writes, persisted: Mapping[int, int], on_persisted: OnPersisted
    ) -> None:
        """Apply ``writes`` to the local store (their outputs are in Kafka), then record the
        changelog offsets in ``persisted`` (partition -> last offset) as persisted."""
        if self._direct:
            self._write_direct(writes)
        else:
            self._write_through_store(writes)
        for partition, offset in persisted.items():
            on_persisted(partition, offset)
        overlay = self._overlay
        for _, key, _ in writes.rows:
            pending = overlay.get(key)
            if pending is not None and pending[1] is writes:
                del overlay[key]
        writes.rows.clear()

    def _write_direct(self, writes: Writes) -> None:
        store = self.table.data
        batches: defaultdict[int, Any] = defaultdict(lambda: WriteBatch(raw_mode=True))
        for partition, key, row in writes.rows:
            if row is None:
                batches[partition].delete(key)
            else:
                batches[partition].put(key, row)
            faust_seam.index_key(store, key, partition)
        for partition, batch in batches.items():
            faust_seam.partition_db(store, partition).write(batch)

    def _write_through_store(self, writes: Writes) -> None:
        store = self.table.data
        for _, key, row in writes.rows:
            if row is None:
                if key in store:
                    del store[key]
            else:
                store[key] = row

    def pending(self) -> int:
        """Rows written but not committed yet."""
        return len(self._overlay)
