"""Notice a group membership that stays in a rebalance, so the loop can join again.

kafka-python 3.0.12 can leave a consumer in a rebalance for good. When the group leader's
rejoin was caused only by a metadata change (its subscribed topics' partitions looked different,
e.g. a topic's metadata arriving after the first join, or a broker restarting), the "rejoin
needed" answer turns false as soon as the leader computed the assignment. If ``poll()``'s time
runs out before the SyncGroup answer comes back, no later ``poll()`` awaits the join again: the
membership stays ``<rebalancing>`` at the old assignment, fetching goes on and every commit is
refused as "rebalance in progress". Seen in 2 of 6 reduced chaos runs on a loaded machine: all
actions handled, no offset committed for a minute and more.

:class:`RebalanceWatch` is fed the membership state after every poll (the public
``KafkaConsumer.group_metadata().state``) and says when one rebalance has lasted longer than
``limit_s``; the loop then leaves and joins the group again with public calls (unsubscribe,
subscribe). It does so at once, without this watch, when a poll returned records in that state
(only the stuck state fetches while rebalancing). A rebalance that is merely slow (another
member finishing a long batch) is joined again too: harmless, the group still waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka.structs import MemberState


@dataclass
class RebalanceWatch:
    """When a rebalance has lasted longer than ``limit_s`` (pure: the caller passes the time)."""

    limit_s: float
    #: When the current rebalance was first seen (None: not rebalancing).
    since: float | None = None

    def stuck(self, state: str, now: float) -> bool:
        """Record ``state`` at ``now``; True once a rebalance has lasted over ``limit_s`` (the
        watch then starts over, as the caller joins again)."""
        if state != MemberState.REBALANCING:
            self.since = None
            return False
        if self.since is None:
            self.since = now
            return False
        if now - self.since <= self.limit_s:
            return False
        self.since = None
        return True
