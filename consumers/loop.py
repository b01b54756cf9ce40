"""The delivery consumer's loop: poll actions and retries, hand them to the handler, commit.

One kafka-python consumer in the channel's group reads ``nurture.action`` and the retry topic;
offsets are committed by hand, per poll batch, only after every outcome of the batch is in the
store and acknowledged by Kafka (flush). A retry partition whose head record is not due yet is
paused and rewound to that record, and resumed when it is due: retries wait without blocking
fresh actions. SIGTERM/SIGINT set ``stop``: the record in flight finishes, the batch's handled
records are flushed and committed, the rest is left for the next owner, and the process exits.

A batch is cut short after half of ``max_poll_interval_s`` (the rest is fetched again), so a
slow batch never makes the group think this process died and hand its partitions to another
while a send is under way. A commit refused because of a rebalance is logged and skipped: the
new owner of a partition gets the handled records again, and they are no-ops there (the
outcomes are on ``nurture.delivery`` before the commit). After every batch the loop tells its
:class:`~consumers.liveness.CommitWatch` whether offsets advanced.

No batch is handled before the profile, suppression and outcome views are caught up. A view
that cannot be (Kafka did not answer, or a record waits for the schema registry:
:class:`~consumers.mirror.ViewStalledError`) makes the loop hand the batch back unhandled and
read it again later: nothing is sent on a view that may miss a consent withdrawn or an
unsubscribe (:mod:`consumers.registry_wait` for the registry's case).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, RebalanceInProgressError
from kafka.structs import MemberState, OffsetAndMetadata

from consumers.handling import Handler
from consumers.liveness import CommitWatch
from consumers.loop_state import LoopSnapshot
from consumers.membership import RebalanceWatch
from consumers.mirror import ViewStalledError
from consumers.registry_wait import RegistryWait, wait_cap_s
from consumers.retries import read_retry_headers
from schemas.errors import ConfigError, KafkaUnavailableError, SchemaError
from schemas.kafka_seam import clients
from schemas.models import parse_nurture_action
from schemas.settings import KafkaSettings
from schemas.topics import ACTION

log = logging.getLogger(__name__)

#: Dead-letter headers of an action that does not decode, beside ``nurture-reason``
#: (``schema_error``) and ``nurture-origin`` (``topic[partition] offset=N``): the error's class
#: (``UnknownSchemaIdError``, ``CorruptPayloadError``, ...) and its message. They come after
#: the record's own headers, which the letter keeps (a retry record's attempt and due time:
#: `nurture dlq redrive` puts them back with the record on the topic it came from).
ERROR_CLASS_HEADER = "nurture-error-class"
ERROR_HEADER = "nurture-error"
#: Longest error message kept in a header (messages quote payload starts: keep them bounded).
MAX_ERROR_CHARS = 2000


def still_ours(
    pending: dict[TopicPartition, OffsetAndMetadata], owned: set[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The pending offsets of partitions in ``owned`` (pure): a partition's next owner, or
    this consumer after it got the partition back from the committed offset, redoes the rest
    (no-ops: the outcomes are on Kafka). Kept through an empty assignment, they would hold a
    consumer left without partitions in "waiting" until its stall timeout."""
    return {tp: offset for tp, offset in pending.items() if tp in owned}


@dataclass(frozen=True)
class PollSettings:
    """How the loop polls (the ``DeliverySettings`` fields of the same names)."""

    poll_timeout_ms: int
    max_poll_records: int = 100
    #: Kafka drops a member that has not polled for this long; a batch gets half of it.
    max_poll_interval_s: float = 300.0
    #: A rebalance waiting longer than this for its assignment is stuck (membership.py).
    rebalance_limit_s: float = 30.0


class DeliveryLoop:
    """Consumes ``action_topic`` and ``retry_topic`` for one channel until ``stop`` is set.

    Actions are decoded with the handler's codecs (in Schema Registry mode both framings,
    record by record). One that does not decode (also an unknown schema id, or a registry that
    did not answer for an id not cached yet) is dead-lettered with its reason; the loop goes on.
    A *view* record waiting for the registry holds the batch instead (module docstring).
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        group_id: str,
        handler: Handler,
        poll: PollSettings,
        *,
        watch: CommitWatch | None = None,
    ) -> None:
        self.handler = handler
        self._decode_action = handler.codecs.decode_action
        self.action_topic = kafka.topic(ACTION)
        self.retry_topic = handler.publisher.retry_topic
        self.watch = watch
        self._poll_timeout_ms = poll.poll_timeout_ms
        self._batch_budget_s = poll.max_poll_interval_s / 2
        #: The longest pause while a view waits for the registry.
        self._wait_cap_s = wait_cap_s(
            poll.max_poll_interval_s, watch.stall_timeout_s if watch else None
        )
        self._batch_deadline = 0.0
        self._paused_until: dict[TopicPartition, float] = {}
        #: Offsets of work done whose commit was refused (a rebalance), committed again at the
        #: next turn while the partition is still ours.
        self._pending: dict[TopicPartition, OffsetAndMetadata] = {}
        #: What the state dump (SIGUSR1) prints, kept by the loop itself: a signal handler must
        #: not call into the consumer, whose lock the interrupted loop may hold.
        self._seen = LoopSnapshot()
        self._rebalance = RebalanceWatch(poll.rebalance_limit_s)
        views = (handler.profiles, handler.suppressions, handler.done_elsewhere)
        self._registry_wait = RegistryWait(handler.metrics, [v.topic for v in views], watch)
        self.consumer = clients.consumer(
            kafka,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=poll.max_poll_records,
            max_poll_interval_ms=int(poll.max_poll_interval_s * 1000),
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        for topic in (self.action_topic, self.retry_topic):
            # Also loads the topics' metadata before the first join, so the group assignment
            # does not start empty and wait for the next metadata refresh.
            if not self.consumer.partitions_for_topic(topic):
                self.consumer.close()
                raise ConfigError(f"topic {topic} does not exist (nurture topics create)")
        self.consumer.subscribe([self.action_topic, self.retry_topic])

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; then commit what is done and return."""
        while not stop.is_set():
            self._resume_due()
            batches = self.consumer.poll(timeout_ms=self._poll_timeout_ms)
            self._report_lag()
            if self._rejoined_if_stuck(fetched=bool(batches)):
                continue  # the batch's partitions are no longer assigned: read again later
            self._seen.fetched(sum(map(len, batches.values())))
            if not batches:
                self._beat(progress=self._commit_pending())
                continue
            self._batch_deadline = time.monotonic() + self._batch_budget_s
            try:
                self._catch_up()
            except KafkaUnavailableError as exc:
                if not exc.retriable:  # refused credentials: trying again will not help
                    raise
                # No action is decided without the latest consent and outcomes: the batch is
                # read again by the next poll (the commit watch ends a wait that never ends).
                log.warning("views of Kafka not caught up, the batch is read again: %s", exc)
                self._read_again(batches)
                continue
            except ViewStalledError as exc:
                if not exc.retriable:  # the registry refused the credentials
                    raise
                # A view stopped at a record it cannot read yet: hold every send until it is.
                self._read_again(batches)
                stop.wait(min(self._registry_wait.stalled(exc), self._wait_cap_s))
                # Back from the batch, without progress: actions waiting that long end in a
                # stall (exit 75) that names them, not in a loop said not to come back.
                self._beat(progress=False)
                continue
            self._registry_wait.caught_up()
            offsets: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, records in batches.items():
                done = self._handle_partition(tp, records, stop)
                if done is not None:
                    offsets[tp] = OffsetAndMetadata(done + 1, "", -1)
            self.handler.publisher.flush()
            self.handler.flushed()
            self._beat(progress=self._commit(offsets) if offsets else True)

    def _read_again(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Hand the batch back unhandled: the next poll fetches it again."""
        for tp, records in batches.items():
            self.consumer.seek(tp, records[0].offset)
        self._beat(progress=False)

    def _rejoined_if_stuck(self, *, fetched: bool) -> bool:
        """Leave and join the group again when the membership is stuck in a rebalance (see
        consumers/membership.py); True when it did, and the batch must not be handled.

        Records fetched while ``<rebalancing>`` mean the stuck state (a join under way makes
        ``poll()`` return nothing), and the other members may already hold this consumer's old
        partitions under the new assignment: handling them could send twice, so it joins again
        at once. An idle member stuck the same way fetches nothing: it joins again after
        ``limit_s``. Offsets waiting for a commit go with the partitions; their next owner
        redoes those records (no-ops: the outcomes are on Kafka)."""
        group = self.consumer.group_metadata()
        self._seen.polled(group)
        now = time.monotonic()
        if fetched and group.state == MemberState.REBALANCING:
            why = "records fetched while the membership is rebalancing"
        elif self._rebalance.stuck(group.state, now):
            why = f"a rebalance lasting over {self._rebalance.limit_s:.0f}s"
        else:
            return False
        log.warning("%s (generation %s): joining the group again", why, group.generation_id)
        self._rebalance.since = None
        self._seen.rejoined()
        self._paused_until.clear()  # the assignment starts afresh: nothing is paused
        self.consumer.unsubscribe()
        self.consumer.subscribe([self.action_topic, self.retry_topic])
        return True

    def _catch_up(self) -> None:
        """Bring the profile, suppression and outcome views up to what Kafka holds now."""
        self.handler.profiles.catch_up()
        self.handler.suppressions.catch_up()
        self.handler.done_elsewhere.catch_up()

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> bool:
        """Commit ``offsets`` (and any refused before); False when a rebalance took or is
        taking the partitions: the offsets are kept and committed again at the next turn."""
        self._pending.update(offsets)
        return self._commit_pending()

    def _commit_pending(self) -> bool:
        """Commit the offsets waiting for it, of the partitions still ours (a partition's next
        owner redoes the rest: no-ops, its outcomes are known). After a broker restart moved
        the group's coordinator, every commit was once refused for a minute while the work
        was done; nothing retried them, so the group never committed it at all."""
        owned = self.consumer.assignment()
        self._pending = still_ours(self._pending, owned)
        if not self._pending:
            return False
        try:
            self.consumer.commit(dict(self._pending))
        except (CommitFailedError, RebalanceInProgressError) as exc:
            log.warning("commit refused (%s): tried again at the next turn", exc)
            self._seen.commit_refused(exc)
            return False
        self._seen.committed(self._pending)
        self._pending.clear()
        self.handler.metrics.committed()
        return True

    def describe_state(self) -> list[str]:
        """The state dump's lines (SIGUSR1): membership, positions, commits."""
        return self._seen.lines(self._pending)

    def _beat(self, *, progress: bool) -> None:
        if self.watch is not None:
            self.watch.beat(progress=progress, waiting=self._waiting())

    def _waiting(self) -> int:
        """Actions not consumed yet on the assigned action partitions (as far as known), and
        at least one while done work waits for its commit (so a commit that is refused for
        ever ends in a stall, not in a healthy-looking idle consumer)."""
        waiting = 0
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if tp.topic == self.action_topic and highwater is not None:
                waiting += max(0, highwater - self.consumer.position(tp))
        return max(waiting, len(self._pending))

    def _report_lag(self) -> None:
        """Set the lag gauge of each assigned partition whose high watermark is known."""
        waiting: dict[tuple[str, int], int] = {}
        positions: dict[TopicPartition, tuple[int, int] | None] = {}
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            # position() of a partition without a fetch yet asks the coordinator, with no end:
            # only once its high watermark shows a fetch came back.
            positions[tp] = None if highwater is None else (self.consumer.position(tp), highwater)
            if highwater is not None:
                waiting[tp.topic, tp.partition] = max(0, highwater - self.consumer.position(tp))
        self.handler.metrics.lag(waiting)
        self._seen.positions = positions

    def _handle_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord], stop: threading.Event
    ) -> int | None:
        """Handle records in order; the offset of the last one handled, or None."""
        last: int | None = None
        for record in records:
            if stop.is_set() or time.monotonic() > self._batch_deadline:
                self.consumer.seek(tp, record.offset)  # fetched again by the next poll
                break
            if tp.topic == self.retry_topic and not self._due(tp, record):
                break
            self._handle_record(record)
            last = record.offset
        return last

    def _due(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        info = read_retry_headers(record.headers or [])
        if info is None:
            return True
        wait_s = info.not_before_ms / 1000 - time.time()
        if wait_s <= 0:
            return True
        self.consumer.pause(tp)
        self.consumer.seek(tp, record.offset)
        self._paused_until[tp] = time.monotonic() + wait_s
        return False

    def _resume_due(self) -> None:
        now = time.monotonic()
        due = [tp for tp, until in self._paused_until.items() if until <= now]
        for tp in due:
            del self._paused_until[tp]
        assigned = self.consumer.assignment()
        resumable = [tp for tp in due if tp in assigned]
        if resumable:
            self.consumer.resume(*resumable)

    def _handle_record(self, record: ConsumerRecord) -> None:
        where = f"{record.topic}[{record.partition}] offset={record.offset}"
        try:
            action = parse_nurture_action(self._decode_action(record.value))
        except SchemaError as exc:
            log.error("%s: not a valid action, dead-lettered: %s", where, exc)
            headers = [
                *(record.headers or ()),
                ("nurture-reason", b"schema_error"),
                ("nurture-origin", where.encode()),
                (ERROR_CLASS_HEADER, type(exc).__name__.encode()),
                (ERROR_HEADER, str(exc)[:MAX_ERROR_CHARS].encode()),
            ]
            self.handler.publisher.dead_letter(record.key, record.value or b"", headers)
            return
        if action.channel != self.handler.channel:
            return
        retry = (
            read_retry_headers(record.headers or []) if record.topic == self.retry_topic else None
        )
        self.handler.handle(action, record.value, retry)

    def close(self) -> None:
        self.consumer.close(autocommit=False)
