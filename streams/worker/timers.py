"""Campaign timers in the worker: waking the candidates whose wake-up is due.

:class:`TimerProcessor` runs what is due on a partition by a given time; the live worker ticks
it on the wall clock (streams/worker/runner.py), while :class:`StreamClock` ticks it on each
partition's stream time (replays and rebuilds, and live with ``NURTURE_WORKER_CLOCK=stream``).
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.timestamps import to_micros
from streams.campaigns.timers import TimerIndex
from streams.worker.campaigns import CampaignOutput
from streams.worker.engagement import ActivityItem
from streams.worker.outputs import Outputs, Record
from streams.worker.rows import dump_row, load_row
from streams.worker.step import Step


class StreamClock:
    """Campaign timers driven by each partition's stream time (the latest event time seen).

    Replays and rebuilds use it: the same events give the same actions at the same decision
    times, whenever and however fast they are processed. The stream time of a partition is kept
    in the table (``\\x00clock/<partition>``), so it survives restarts.
    """

    def __init__(self, timers: TimerProcessor) -> None:
        self.timers = timers

    def advance(self, step: Step, groups: Iterable[list[tuple[ActivityItem, Record]]]) -> None:
        """Move each partition's stream time to the latest event time of the batch and run
        the timers due by then."""
        latest: dict[int, int] = {}
        for group in groups:
            for item, _ in group:
                occurred = item.record["occurred_at"]
                at = occurred if type(occurred) is int else to_micros(occurred)
                if at > latest.get(item.partition, at - 1):
                    latest[item.partition] = at
        for partition, at in sorted(latest.items()):
            store = step.index_store(partition)
            key = f"clock/{partition}"
            known = store.get(key)
            if known is not None and known >= at:
                continue
            store[key] = at
            self.timers.tick(step, partition, at)


class TimerProcessor:
    """Wakes the candidates whose campaign wake-up is due: steps after waits, held actions
    whose quiet hours ended, inactivity deadlines (streams/campaigns/timers.py)."""

    def __init__(self, outputs: Outputs, campaigns: CampaignOutput) -> None:
        self.out = outputs
        self.campaigns = campaigns

    def tick(self, step: Step, partition: int, now_us: int) -> int:
        """Run everything due by ``now_us`` on ``partition``; returns the candidates woken."""
        campaigns = self.campaigns
        index = TimerIndex(step.index_store(partition), partition=partition)
        woken = 0
        while True:
            for candidate_id in index.take_due(now_us):
                key = candidate_id.encode()
                stored = step.get(partition, key)
                if stored is None:  # erased since: nothing to do
                    continue
                row = load_row(stored)
                decision = campaigns.on_timer(candidate_id, row, now_us)
                campaigns.add(step.outbox, key, decision)
                campaigns.schedule(index, candidate_id, decision)
                step.put(partition, key, dump_row(row))
                woken += 1
            if not index.behind(now_us):
                break
        self.out.metrics.timer_wakeups.inc(woken)
        return woken
