"""The timer index reads only due buckets; the engine keeps one wake-up per candidate."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from streams.campaigns import TimerIndex
from tests.test_campaigns_support import DAY_US, MINUTE_US, T0, WELCOME, Driver, engine, event, view


class RecordingStore(MutableMapping[str, Any]):
    """A dict that records which keys were read (what a faust table lookup would cost)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.reads.append(key)
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the index must never iterate over its store")

    def __len__(self) -> int:
        raise AssertionError("the index must never scan its store")

    def bucket_reads(self) -> list[str]:
        return [key for key in self.reads if not key.endswith("/meta")]


def test_a_tick_reads_only_the_due_bucket() -> None:
    store = RecordingStore()
    index = TimerIndex(store, partition=3)
    for n in range(1000):  # a thousand candidates due over the next ~16 hours
        index.add(f"cand-{n}", T0 + n * MINUTE_US)
    index.take_due(T0)  # nothing completed yet
    store.reads.clear()
    assert index.take_due(T0 + MINUTE_US) == ["cand-0"]
    assert store.bucket_reads() == [f"timers/3/{T0 // MINUTE_US}"]
    store.reads.clear()
    assert index.take_due(T0 + 3 * MINUTE_US) == ["cand-1", "cand-2"]
    assert store.bucket_reads() == [f"timers/3/{T0 // MINUTE_US + b}" for b in (1, 2)]
    assert index.pending() == 997


def test_ticks_with_nothing_due_read_no_bucket() -> None:
    store = RecordingStore()
    index = TimerIndex(store)
    index.add("far", T0 + 30 * DAY_US)
    store.reads.clear()
    for minute in range(1, 120):
        index.take_due(T0 + minute * MINUTE_US)
    assert store.bucket_reads() == [], "the first pending bucket is in 30 days"
    assert index.take_due(T0 + 30 * DAY_US + MINUTE_US) == ["far"]
    store.reads.clear()
    index.take_due(T0 + 31 * DAY_US)
    assert store.bucket_reads() == [], "an empty index reads nothing"


def test_entries_for_past_times_go_to_the_next_tick() -> None:
    index = TimerIndex({})
    index.take_due(T0)
    bucket = index.add("late", T0 - DAY_US)
    assert bucket == T0 // MINUTE_US
    assert index.take_due(T0 + MINUTE_US) == ["late"]


def test_remove_and_duplicates() -> None:
    index = TimerIndex({})
    index.add("a", T0)
    index.add("a", T0 + 1)  # same bucket: one entry
    index.add("b", T0)
    assert index.pending() == 2
    assert index.remove("a", T0)
    assert not index.remove("a", T0)
    assert index.take_due(T0 + MINUTE_US) == ["b"]
    assert index.pending() == 0


def test_a_long_outage_is_caught_up_in_bounded_ticks() -> None:
    store = RecordingStore()
    index = TimerIndex(store)
    index.add("x", T0)
    index.add("y", T0 + 2 * DAY_US)
    index.take_due(T0 - MINUTE_US)
    store.reads.clear()
    now = T0 + 3 * DAY_US
    assert index.take_due(now, max_buckets=1440) == ["x"]
    assert index.behind(now)
    assert len(store.bucket_reads()) == 1440
    woken = []
    ticks = 1
    while index.behind(now):
        woken += index.take_due(now, max_buckets=1440)
        ticks += 1
    assert woken == ["y"]
    assert ticks == 3, "three days of minute buckets, a day per tick"
    assert index.pending() == 0


def test_partitions_do_not_share_buckets() -> None:
    store: dict[str, Any] = {}
    TimerIndex(store, partition=0).add("a", T0)
    TimerIndex(store, partition=1).add("b", T0)
    assert TimerIndex(store, partition=1).take_due(T0 + MINUTE_US) == ["b"]
    assert TimerIndex(store, partition=0).take_due(T0 + MINUTE_US) == ["a"]


INACTIVE = """
id: wake-up
version: 1
trigger: {inactivity: 60d}
steps:
  - id: hello
    action: {channel: email, template: hello}
"""


def test_a_busy_candidate_costs_no_index_writes() -> None:
    # Each event moves the inactivity deadline later; the registered wake stays put.
    drive = Driver(engine(INACTIVE), view())
    first = drive.event("page_viewed", T0, url="https://x.test")
    assert first.timers_set == (T0 + 60 * DAY_US,)
    for day in range(1, 30):
        later = drive.event("page_viewed", T0 + day * DAY_US, url="https://x.test")
        assert later.timers_set == () and later.timers_cleared == ()
    # The early wake finds nothing due and registers the real deadline.
    drive.run_until(T0 + 60 * DAY_US + MINUTE_US)
    assert drive.actions == []
    assert drive.state is not None and drive.state["wake"] == T0 + 89 * DAY_US
    drive.run_until(T0 + 89 * DAY_US + MINUTE_US)
    assert len(drive.actions) == 1


def test_an_earlier_due_time_moves_the_wake() -> None:
    both = engine(INACTIVE, WELCOME)
    decision = both.on_event(None, view(), event("page_viewed", T0, url="https://x.test"))
    assert decision.timers_set == (T0 + 60 * DAY_US,)
    joined = both.on_event(decision.state, view(), event("talent_pool_joined", T0 + DAY_US))
    assert joined.timers_set == (T0 + 8 * DAY_US,)
    assert joined.timers_cleared == (T0 + 60 * DAY_US,)


def test_nothing_pending_clears_the_wake() -> None:
    drive = Driver(engine(WELCOME), view())
    drive.event("talent_pool_joined", T0)
    drive.run_until(T0 + 22 * DAY_US)
    assert drive.state is not None and drive.state["wake"] is None
    assert drive.index.pending() == 0


def test_a_stale_index_entry_changes_nothing() -> None:
    decide = engine(WELCOME)
    joined = decide.on_event(None, view(), event("talent_pool_joined", T0))
    stale = decide.on_timer(joined.state, view(), T0 + DAY_US)  # digest is due on day 7
    assert stale.outcomes == () and stale.timers_set == () and stale.timers_cleared == ()
    assert stale.state == joined.state
