"""One processing step (a batch of events or a timer tick): its rows, index entries and records.

A step writes rows to the overlay of the :class:`~streams.worker.row_store.RowStore` (visible to
its own later reads at once) and collects every record it causes in an
:class:`~streams.worker.outbox.Outbox`. The changelog records are added last, when the step is
:meth:`sealed <Step.seal>`: one per key (the last write wins, so a row written twice in a step is
sent once), and per partition the timer-index records *before* the rows. Kafka keeps a
partition's records in order and an idempotent producer never leaves a gap, so if a crash
published only part of a step, a row that made it is always preceded by the index entries it
relies on: a candidate whose state says "wake me at T" is never missing from the index.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from streams.worker.outbox import Outbox
from streams.worker.row_store import RowStore, Writes

#: Table keys of the worker's own bookkeeping start with a NUL byte; candidate ids may not.
INTERNAL_PREFIX = b"\x00"


class Step:
    """The rows and records of one processing step, in the order they must reach Kafka."""

    def __init__(self, rows: RowStore, outbox: Outbox, changelog: str) -> None:
        self.rows = rows
        self.outbox = outbox
        self.changelog = changelog
        self.writes = Writes()
        #: (partition, key) -> row bytes (None: tombstone), index entries and rows apart.
        self._index: dict[tuple[int, bytes], bytes | None] = {}
        self._rows: dict[tuple[int, bytes], bytes | None] = {}
        self._views: dict[int, IndexStore] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.rows.get(partition, key)

    def put(self, partition: int, key: bytes, row: bytes | None) -> None:
        """Write (None: delete) the row of ``key`` on ``partition`` (the key's source partition)."""
        self.rows.put(self.writes, partition, key, row)
        self._rows[(partition, key)] = row

    def put_internal(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Write a bookkeeping entry (timer index, erasure marker): published before the rows."""
        self.rows.put(self.writes, partition, key, value)
        self._index[(partition, key)] = value

    def index_store(self, partition: int) -> IndexStore:
        """The timer index storage of ``partition`` (a ``MutableMapping`` for ``TimerIndex``)."""
        view = self._views.get(partition)
        if view is None:
            view = self._views[partition] = IndexStore(self, partition)
        return view

    def seal(self) -> Outbox:
        """Add the changelog records (index entries first, then rows) and return the outbox."""
        for (partition, key), value in self._index.items():
            self.outbox.add(self.changelog, key, value, partition=partition)
        for (partition, key), row in self._rows.items():
            self.outbox.add(self.changelog, key, row, partition=partition)
        self._index.clear()
        self._rows.clear()
        return self.outbox


class IndexStore(MutableMapping[str, Any]):
    """Timer-index entries (JSON values under string keys) kept in the table as internal keys
    of one partition. Only the operations :class:`~streams.campaigns.timers.TimerIndex` uses
    are efficient; iteration is not supported (it would scan the table)."""

    def __init__(self, step: Step, partition: int) -> None:
        self.step = step
        self.partition = partition
        #: Decoded values read or written in this step (the index meta is read on every call).
        self._cache: dict[str, Any] = {}

    @staticmethod
    def table_key(key: str) -> bytes:
        return INTERNAL_PREFIX + key.encode()

    def __getitem__(self, key: str) -> Any:
        cache = self._cache
        if key in cache:
            value = cache[key]
        else:
            stored = self.step.get(self.partition, self.table_key(key))
            value = cache[key] = None if stored is None else orjson.loads(stored)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._cache[key] = value
        self.step.put_internal(self.partition, self.table_key(key), orjson.dumps(value))

    def __delitem__(self, key: str) -> None:
        self._cache[key] = None
        self.step.put_internal(self.partition, self.table_key(key), None)

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the timer index is not iterable (that would scan the table)")

    def __len__(self) -> int:
        raise TypeError("the timer index has no length (that would scan the table)")
