"""Broker faults of a chaos run on a local cluster (`nurture chaos --broker-faults kill|rolling`).

* ``kill``: SIGKILL the broker that leads the most ``candidate.activity`` partitions while the
  SDK publishes, the workers process and delivery sends; bring it back after ``down_s``;
* ``rolling``: a controlled restart of every broker in turn, each once the previous one is back
  and every partition of the run's topics is in sync again (what an upgrade does).

The fleet goes on being supervised meanwhile (nothing waits on a blocking restart), and each
step is recorded with when it happened, so the report can say how long the cluster took to be
whole again. What the faults must not cause is checked from the run's outcome
(:func:`publish_check`): every acknowledged event in ``candidate.activity`` exactly as often as
it was published, no e-mail twice, the outcome equal to the fault-free reference.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from kafka.errors import KafkaError

from deploy.broker.cluster import ClusterNode, LocalCluster
from deploy.broker.process import answers_metadata
from schemas.errors import BrokerError, NurtureError
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings

BrokerFaultMode = Literal["kill", "rolling"]
BROKER_FAULT_MODES: tuple[BrokerFaultMode, ...] = ("kill", "rolling")

#: Waits on the cluster (a node's start, the replicas catching up), seconds.
CLUSTER_WAIT_S = 180.0


@dataclass(frozen=True)
class BrokerEvent:
    """One step of the faults: ``what`` happened to ``node`` at monotonic time ``at``."""

    at: float
    node: int
    what: str


@dataclass(frozen=True)
class PublishCheck:
    """The run's ``candidate.activity`` against what was published and acknowledged."""

    acknowledged: int
    found: int
    #: event ids published (and acknowledged) but absent
    missing: tuple[str, ...]
    #: copies beyond the number of times an event id was published
    extra_copies: int


def publish_check(published: Iterable[str], found: Iterable[str]) -> PublishCheck:
    """Compare the event ids published (each acknowledged; repeats as often as sent) with the
    ones read back from the topic (pure)."""
    sent, read = Counter(published), Counter(found)
    missing = tuple(sorted(eid for eid in sent if eid not in read))
    extra = sum(max(0, read[eid] - count) for eid, count in sent.items())
    extra += sum(count for eid, count in read.items() if eid not in sent)
    return PublishCheck(sum(sent.values()), sum(read.values()), missing, extra)


def busiest_leader(kafka: KafkaSettings, topic: str) -> int:
    """The broker that leads the most partitions of ``topic`` (the lowest id on a tie)."""
    with topic_admin.admin_client(kafka) as admin:
        partitions = admin.describe_topics([topic])[0]["partitions"]
    leaders: Counter[int] = Counter(int(p["leader_id"]) for p in partitions if p["leader_id"] >= 0)
    return min(leaders, key=lambda node: (-leaders[node], node))


def in_sync(kafka: KafkaSettings) -> bool | None:
    """True when every partition of every topic of the cluster (the committed offsets and the
    tables' changelogs included) has all its replicas in sync; None when the cluster did not
    answer (a broker coming back may refuse a request: ask again)."""
    try:
        with topic_admin.admin_client(kafka, timeout_s=5.0) as admin:
            topics = admin.describe_topics()
    except (KafkaError, NurtureError):
        return None
    partitions = [p for topic in topics for p in topic["partitions"]]
    return bool(partitions) and all(
        p["leader_id"] >= 0 and len(p["isr_nodes"]) == len(p["replica_nodes"]) for p in partitions
    )


Wait = Callable[[str, Callable[[], bool]], None]


class BrokerFaults:
    """Applies one mode of faults to ``cluster``; ``wait(what, condition)`` supervises the run
    until ``condition()`` holds, ``note`` prints a progress line."""

    def __init__(
        self,
        cluster: LocalCluster,
        kafka: KafkaSettings,
        wait: Wait,
        note: Callable[[str], None],
        down_s: float,
    ) -> None:
        self.cluster = cluster
        self.kafka = kafka
        self.wait = wait
        self.note = note
        self.down_s = down_s
        self.events: list[BrokerEvent] = []

    def apply(self, mode: BrokerFaultMode, topic: str) -> list[BrokerEvent]:
        """Apply the faults; BrokerError when a broker does not come back (the run cannot be
        carried out). However it ends (an error, Ctrl-C), a broker stopped here is started
        again."""
        try:
            if mode == "kill":
                self._kill_busiest(topic)
            else:
                for node in self.cluster.all_nodes():
                    self._restart(node)
        finally:
            self._revive_all()
        return self.events

    def _revive_all(self) -> None:
        """Start every node that is not running (a fault interrupted half-way)."""
        for node in self.cluster.all_nodes():
            if not node.status().running:
                with contextlib.suppress(BrokerError):
                    node.start()

    def _record(self, node: int, what: str) -> None:
        self.events.append(BrokerEvent(time.monotonic(), node, what))
        self.note(f"broker {node}: {what}")

    def _kill_busiest(self, topic: str) -> None:
        victim = busiest_leader(self.kafka, topic)
        self.cluster.kill(victim)
        self._record(victim, "SIGKILL (it led the most partitions)")
        down_until = time.monotonic() + self.down_s
        self.wait(
            f"broker {victim} down for {self.down_s:g}s", lambda: time.monotonic() >= down_until
        )
        self._bring_back(self.cluster.node(victim))

    def _restart(self, node: ClusterNode) -> None:
        node.signal_stop()
        self._record(node.node_id, "controlled stop (SIGTERM)")
        self.wait(f"broker {node.node_id} to stop", lambda: not node.status().running)
        self._bring_back(node)

    def _bring_back(self, node: ClusterNode) -> None:
        process = node.launch()
        self._record(node.node_id, "started again")
        deadline = time.monotonic() + CLUSTER_WAIT_S

        def answers() -> bool:
            if process.poll() is not None or time.monotonic() > deadline:
                node.kill()
                raise BrokerError(f"broker {node.node_id} did not come back:\n{node.log_tail(15)}")
            return answers_metadata(node.client_settings(), timeout_s=1.0)

        self.wait(f"broker {node.node_id} to answer", answers)
        self._record(node.node_id, "answers")
        self.wait("every partition of the cluster in sync", lambda: in_sync(self.kafka) is True)
        self._record(node.node_id, "every partition in sync again")
