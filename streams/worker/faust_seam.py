"""The worker's one door into faust-streaming's private members, with a start-up check.

faust has no public API for three things the worker needs for speed: taking whole fetches from
its consumer (the batch intake, ``intake.py``), writing rows to a RocksDB partition in one
``WriteBatch`` (``row_store.py``) and submitting whole record batches through its aiokafka
producer (``outbox.py``). Every private member those use is reached through a function here,
and :func:`check` verifies at start-up that each one exists, failing with one line naming
faust's version and the missing member instead of an ``AttributeError`` mid-batch (or, worse,
a silently different behaviour). Tested with :data:`TESTED_VERSION`; ``pyproject.toml`` pins it.

Everything else the worker uses of faust is public: the app, agents, tables and their
changelog, timers, the web server, ``Consumer.track_message``/``ack``/``seek_wait``/
``earliest_offsets``, ``app.consumer_generation_id`` and ``app.on_partitions_revoked``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaDriverConsumer
from faust.transport.drivers.aiokafka import Producer as AIOKafkaDriverProducer
from faust.types import TP

from schemas import internals_check

#: The faust-streaming release these members were read from and tested with.
TESTED_VERSION = "0.15.3"

#: (class, member, who needs it) for every private member used below.
PRIVATE_MEMBERS: tuple[tuple[type, str, str], ...] = (
    (AIOKafkaDriverConsumer, "_wait_next_records", "the batch intake (one fetch at a time)"),
    (AIOKafkaDriverConsumer, "_to_message", "the batch intake (offset tracking)"),
    (AIOKafkaDriverConsumer, "_add_gap", "the batch intake (acks for a whole batch)"),
    (AIOKafkaDriverConsumer, "_read_offset", "the batch intake (offset after a seek)"),
    (AIOKafkaDriverConsumer, "_buffered_partitions", "the batch intake (fetchable partitions)"),
    (AIOKafkaDriverConsumer, "_acked", "the intake's state dump (acked offsets)"),
    (AIOKafkaDriverConsumer, "_gap", "the intake's state dump (acked ranges)"),
    (AIOKafkaDriverConsumer, "_committed_offset", "the intake's state dump (committed offsets)"),
    (AIOKafkaDriverConsumer, "_thread", "fetch tuning (faust's consumer thread)"),
    (AIOKafkaConsumerThread, "_consumer", "fetch tuning (faust's aiokafka consumer)"),
    (AIOKafkaDriverProducer, "_ensure_producer", "the outbox (whole record batches)"),
    (RocksDBStore, "_db_for_partition", "the row store (one WriteBatch per partition)"),
    (RocksDBStore, "_key_index", "the row store (key -> partition index)"),
    (Recovery, "_seek_offsets", "the recovery guard (no seek to an offset never built)"),
)

#: Public members the worker relies on, checked too (a rename would break it the same way).
PUBLIC_MEMBERS: tuple[tuple[type, str, str], ...] = (
    (AIOKafkaDriverConsumer, "getmany", "the batch intake (replaced per consumer)"),
    (AIOKafkaDriverConsumer, "track_message", "the batch intake"),
    (AIOKafkaDriverConsumer, "ack", "the batch intake"),
    (AIOKafkaDriverConsumer, "seek_wait", "the batch intake (re-reading a skipped range)"),
    (AIOKafkaDriverConsumer, "earliest_offsets", "the batch intake (retention gaps)"),
    (AIOKafkaDriverConsumer, "flow_active", "the batch intake (rebalances)"),
    (AIOKafkaDriverConsumer, "perform_seek", "the batch intake (seeks to the commits)"),
    (RocksDBStore, "set_persisted_offset", "the row store"),
    (RocksDBStore, "use_rocksdict", "the row store (which RocksDB binding)"),
)


def missing_members() -> list[str]:
    """One line per member the installed faust lacks (empty: all there)."""
    return internals_check.missing(PRIVATE_MEMBERS + PUBLIC_MEMBERS)


def check() -> None:
    """Fail fast, in one line, when the installed faust lacks a member used here."""
    internals_check.require("faust-streaming", TESTED_VERSION, missing_members(), "this worker")


# -- consumer (the batch intake) --------------------------------------------------------------

GetMany = Callable[[float], AsyncIterator[tuple[TP, Any]]]


def replace_getmany(consumer: Any, getmany: GetMany) -> None:
    """Make faust's drain loop take its fetches from ``getmany`` (an instance attribute)."""
    consumer.getmany = getmany


def wrap_perform_seek(
    consumer: Any, around: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]
) -> None:
    """Make every ``perform_seek`` of ``consumer`` (faust's seek of all assigned partitions to
    their committed offsets, at the end of each rebalance) run as ``around(original)``."""
    original = consumer.perform_seek

    async def perform_seek() -> None:
        await around(original)

    consumer.perform_seek = perform_seek


async def wait_next_records(consumer: Any, timeout: float) -> tuple[Any, set[TP] | None]:
    """One fetch: ``(records per partition or None, the partitions fetchable now)``; waits
    while the flow is stopped (a rebalance), as faust's own ``getmany`` does."""
    records, active = await consumer._wait_next_records(timeout)
    return records, active


def fetchable(consumer: Any, tp: TP, active: set[TP] | None) -> bool:
    """True when faust would hand ``tp``'s fetched records on (it is not paused)."""
    return active is None or tp in active or tp in consumer._buffered_partitions


def to_message(consumer: Any, tp: TP, record: Any) -> Any:
    """faust's ``Message`` for an aiokafka record (for ``track_message`` and ``ack``)."""
    return consumer._to_message(tp, record)


async def add_gap(consumer: Any, tp: TP, first: int, last: int) -> None:
    """Count offsets ``first..last`` of ``tp`` as acknowledged (a processed batch)."""
    await consumer._add_gap(tp, first, last)


def sought_offset(consumer: Any, tp: TP) -> int | None:
    """The offset faust's last seek of ``tp`` put the consumer at (the committed offset), or
    None when it has none (no commit yet: the reset policy decides where reading starts).

    faust's ``_read_offset`` holds that only for partitions whose records never pass through
    its drain loop (which stores the last offset *read* there): true of the batch intake's."""
    offset: int | None = consumer._read_offset.get(tp)
    return offset


def read_offset(consumer: Any, tp: TP) -> int | None:
    """faust's read offset of ``tp``: where its last seek put the consumer (the committed
    offset; None without one), or, for a partition whose records pass through its drain loop,
    the offset of the last record handed on."""
    offset: int | None = consumer._read_offset.get(tp)
    return offset


def offsets_state(consumer: Any, tp: TP) -> dict[str, Any]:
    """faust's offset bookkeeping of ``tp`` (for a state dump): committed and read offsets, the
    acknowledged offsets not committed yet (count, lowest, highest) and the gaps."""
    acked = list(consumer._acked.get(tp, ()))
    gaps = consumer._gap.get(tp)
    return {
        "committed": consumer._committed_offset.get(tp),
        "read": consumer._read_offset.get(tp),
        "acked": (len(acked), min(acked), max(acked)) if acked else (0, None, None),
        "gaps": sorted((g.begin, g.end) for g in gaps)[:5] if gaps else [],
    }


def aiokafka_consumer(app: Any) -> Any:
    """faust's aiokafka consumer (in its consumer thread), or None before it is built."""
    try:
        return app.consumer._thread._consumer
    except AttributeError:  # the consumer thread has not built it yet
        return None


# -- producer (the outbox) --------------------------------------------------------------------


def aiokafka_producer(app: Any) -> Any:
    """faust's started ``aiokafka.AIOKafkaProducer``."""
    return app.producer._ensure_producer()


# -- RocksDB store (the row store) ------------------------------------------------------------


def is_rocksdict_store(store: Any) -> bool:
    """True for faust's RocksDB store through rocksdict (whose partitions are written here)."""
    return isinstance(store, RocksDBStore) and bool(store.use_rocksdict)


def partition_db(store: Any, partition: int) -> Any:
    """The rocksdict database of ``partition`` in faust's RocksDB store."""
    return store._db_for_partition(partition)


def index_key(store: Any, key: bytes, partition: int) -> None:
    """Tell the store which partition holds ``key`` (faust's lookups use this index)."""
    store._key_index[key] = partition


# -- table recovery ---------------------------------------------------------------------------


def guard_recovery_seeks(app: Any) -> None:
    """Make faust's recovery seek a changelog partition whose start offset was never built to
    its beginning instead of crashing the worker.

    faust 0.15.3 builds the standby offsets for the partitions assigned when a recovery starts,
    but seeks the standby partitions of the moment the actives are restored: a rebalance while
    they are restored adds partitions whose offset is still None (``Recovery._add``), and
    aiokafka's ``seek`` refuses None ("Offset must be a positive integer"). Seen in CI as a
    worker crash in ``tests/test_worker_group.py``. Offset -1 is what faust itself uses for
    "nothing read yet" (it seeks to 0); the recovery that the rebalance restarts builds the
    real offsets again."""
    recovery = app.tables.recovery
    original = recovery._seek_offsets

    async def _seek_offsets(consumer: Any, tps: Any, offsets: Any, title: str) -> None:
        for tp in tps:
            if offsets.get(tp) is None:
                offsets[tp] = -1
        await original(consumer, tps, offsets, title)

    recovery._seek_offsets = _seek_offsets
