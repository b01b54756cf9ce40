"""The two runs of `nurture chaos`: processes and timing (docs/chaos.md).

1. **Set-up.** Every declared topic under the run's fresh prefix and under ``<prefix>ref-``
   (6 partitions; replication as `nurture topics create` gives it: min(3, brokers)); the
   seeded input (:mod:`deploy.chaos.inputs`) is generated once and its profiles are published
   to both.
2. **Reference run.** One worker, no faults: it takes the profiles, then every activity event at
   once, until the group's committed offsets reach the end of both source topics.
3. **Chaos run.** ``workers`` workers of one group and one e-mail delivery consumer; once the
   profiles are committed, a third of the events is published at once and the kill schedule
   starts while the rest follows at ``rate`` events/s. Each kill hits a random live process
   (now and then the delivery consumer), never the last live worker; whatever exits is started
   again at once. Then the harness stops killing and waits until the workers have committed
   everything and delivery has caught up with ``nurture.action``.
4. Both outcomes are read and compared; the Maildir is checked for duplicate e-mails;
   processes, topics, groups and the run directory are removed (topics, groups and directory
   kept with ``keep``).

Everything runs on the calling thread except the publisher and the offset watch, so the
children's parent-death signal stays tied to a thread that lives as long as the run.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from kafka.errors import KafkaError
from pydantic import SecretStr

from deploy.broker.cluster import LocalCluster
from deploy.chaos.broker_faults import BrokerFaults, in_sync, publish_check
from deploy.chaos.cleanup import delete_run, in_use
from deploy.chaos.compare import compare
from deploy.chaos.exits import meaning
from deploy.chaos.inputs import ChaosInput, chaos_input, input_end, publish_events, publish_profiles
from deploy.chaos.outbox import duplicate_sends, message_ids
from deploy.chaos.outcome import Outcome, activity_event_ids, delivery_outcomes, read_outcome
from deploy.chaos.processes import (
    DELIVERY_CHANNEL,
    ChildProcess,
    Fleet,
    Member,
    delivery_env,
    delivery_group,
    worker_env,
    worker_group,
)
from deploy.chaos.progress import (
    PartitionId,
    Snapshot,
    longest_stall,
    recovery_time,
    stuck_partitions,
)
from deploy.chaos.result import (
    ChaosError,
    ChaosOptions,
    ChaosResult,
    PrefixInUseError,
)
from deploy.chaos.schedule import KillKind, count_kinds, kill_schedule
from deploy.chaos.supervision import Publisher, Supervisor
from deploy.chaos.watch import REQUEST_TIMEOUT_S, OffsetWatch
from schemas.catalog import default_catalog
from schemas.errors import NurtureError
from schemas.kafka_seam import topic_admin
from schemas.privacy.kek import new_kek_text
from schemas.privacy.settings import PrivacySettings
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.codec import WireCodec, wire_codec
from schemas.schema_registry.register import register_catalog
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, PROFILE
from streams.worker.probe import wait_caught_up

#: Partitions of the run's topics.
PARTITIONS = 6
#: Share of the events published at once when the schedule starts (the rest is paced).
FIRST_SHARE = 0.3
#: A partition is stuck when its committed offset stood still this long at the end.
STUCK_WINDOW_S = 30.0
#: Seconds kept back from the deadline for reading outcomes, stopping and cleaning up.
RESERVE_S = 30.0

Say = Callable[[str], None]


@dataclass
class _Run:
    """The state one chaos invocation shares between its steps."""

    options: ChaosOptions
    chaos: KafkaSettings
    reference: KafkaSettings
    run_dir: Path
    deadline: float
    say: Say
    cluster: LocalCluster | None = None
    started: float = field(default_factory=time.monotonic)
    kek: str = field(default_factory=new_kek_text)
    erasure_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    tracking_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @cached_property
    def wire(self) -> WireCodec:
        """What the outcomes are read with (registry mode: both framings, per record)."""
        return wire_codec(self.options.schema_registry or SchemaRegistrySettings(url=None))

    def remaining(self, reserve_s: float = RESERVE_S) -> float:
        return max(1.0, self.deadline - reserve_s - time.monotonic())

    def note(self, message: str) -> None:
        self.say(f"[{time.monotonic() - self.started:6.1f}s] {message}")


def settings_for(kafka: KafkaSettings, prefix: str) -> KafkaSettings:
    """``kafka`` with the run's topic prefix and partitions (replication: as configured, else
    min(3, brokers))."""
    return kafka.model_copy(update={"topic_prefix": prefix, "topic_partitions": PARTITIONS})


def run_chaos(
    kafka: KafkaSettings,
    options: ChaosOptions,
    say: Say,
    cluster: LocalCluster | None = None,
) -> ChaosResult:
    """Carry out both runs and compare them (see the module docstring); broker faults
    (``options.broker_faults``) are applied to ``cluster``, whose brokers ``kafka`` reaches.

    Raises :class:`PrefixInUseError` before touching anything when the prefix is in use, and
    :class:`ChaosError` when a run cannot be carried out; problems the run *finds* are in the
    result. Processes are killed, and topics, groups and the run directory deleted (unless
    ``options.keep``), however it ends, Ctrl-C included.
    """
    if options.broker_faults is not None and cluster is None:
        raise ChaosError("broker faults need a local cluster (`nurture broker start --nodes 3`)")
    found = in_use(kafka, options.prefix)
    if found:
        raise PrefixInUseError(options.prefix, found)
    run_dir = Path(tempfile.mkdtemp(prefix="nurture-chaos-"))
    run = _Run(
        options,
        settings_for(kafka, options.prefix),
        settings_for(kafka, options.reference_prefix),
        run_dir,
        time.monotonic() + options.timeout_s,
        say,
        cluster,
    )
    result = ChaosResult(options)
    try:
        _set_up(run, result)
        data = _input(run, result)
        result.reference = _reference_run(run, data, result)
        _chaos_run(run, data, result)
    finally:
        _clean_up(kafka, run, result)
    return result


def _set_up(run: _Run, result: ChaosResult) -> None:
    registry = run.options.schema_registry
    for settings in (run.chaos, run.reference):
        report = topic_admin.create_all(settings)
        if not report.ok:
            raise ChaosError(f"topics under {settings.topic_prefix!r} conflict: {report.conflicts}")
        if registry is not None and registry.enabled:  # the runs' prefixes name their subjects
            with SchemaRegistryClient(registry) as client:
                register_catalog(client, default_catalog(), topic_prefix=settings.topic_prefix)
    framing = (
        f"Schema Registry mode: Confluent framing, schemas registered at {registry.url}"
        if registry is not None and registry.enabled
        else "single-object framing"
    )
    run.note(
        f"topics created under {run.options.prefix!r} and {run.options.reference_prefix!r} "
        f"({PARTITIONS} partitions; {framing}); run directory {run.run_dir}"
    )


def _input(run: _Run, result: ChaosResult) -> ChaosInput:
    options = run.options
    data = chaos_input(
        options.seed, options.events, options.candidates, end=input_end(datetime.now(UTC))
    )
    privacy = PrivacySettings(kek=SecretStr(run.kek), generate_kek=False)
    for settings in (run.reference, run.chaos):
        result.profiles = publish_profiles(settings, data.profiles, privacy)
    result.events, result.duplicates = len(data.events), data.duplicates
    run.note(
        f"input (seed {options.seed}): {result.profiles} profiles published to both runs; "
        f"{result.events} events to follow ({result.duplicates} repeat an event id)"
    )
    return data


def _reference_run(run: _Run, data: ChaosInput, result: ChaosResult) -> Outcome:
    """One worker, no faults, until caught up; its outcome."""
    kafka = run.reference
    started = time.monotonic()
    worker = ChildProcess(
        ("worker",),
        worker_env(kafka, run.run_dir / "reference-worker", run.erasure_secret),
        run.run_dir / "reference-worker.log",
    ).start()
    group = worker_group(kafka)
    try:
        wait_caught_up(kafka, group, kafka.topic(PROFILE), timeout_s=run.remaining(), alive=worker)
        publish_events(kafka, [(data.events, None)])
        for topic in (ACTIVITY, PROFILE):
            wait_caught_up(
                kafka, group, kafka.topic(topic), timeout_s=run.remaining(), alive=worker
            )
    except BaseException as exc:
        worker.kill()
        if not isinstance(exc, TimeoutError | RuntimeError):
            raise
        tail = worker.log_path.read_text(errors="replace")[-2000:]
        raise ChaosError(f"the reference run failed: {exc}\n{tail}") from exc
    code = worker.stop()
    if code not in (0, None):
        run.note(f"reference worker: exit {code} ({meaning(code)}) after SIGTERM")
    outcome = read_outcome(kafka, run.wire)
    result.reference_s = time.monotonic() - started
    run.note(
        f"reference run: 1 worker caught up in {result.reference_s:.1f}s: "
        f"{len(outcome.engagement)} candidates scored, {len(outcome.actions)} actions, "
        f"{len(outcome.suppression)} suppression records"
    )
    return outcome


def _chaos_run(run: _Run, data: ChaosInput, result: ChaosResult) -> None:
    options, kafka = run.options, run.chaos
    started = time.monotonic()
    schedule = kill_schedule(options.seed, options.scale, pause_range_s=options.pause_s)
    result.scheduled = count_kinds(k.kind for k in schedule)
    sources = (kafka.topic(ACTIVITY), kafka.topic(PROFILE))
    actions = (kafka.topic(ACTION),)
    watch = OffsetWatch(kafka, {worker_group(kafka): sources, delivery_group(kafka): actions})
    publisher = Publisher(kafka, data.events, first_share=FIRST_SHARE, rate=options.rate)
    fleet = _fleet(run)
    supervisor = Supervisor(fleet, publisher, watch, run.remaining, run.note)
    watch.start()
    try:
        fleet.start()
        run.note(f"chaos run: {options.workers} workers and 1 e-mail delivery consumer started")
        supervisor.until("the profiles committed", lambda: supervisor.caught_up(sources[1:]))
        publisher.start()
        supervisor.until("the first events published", publisher.first_done.is_set)
        run.note(
            f"{len(schedule)} kills scheduled ({_kinds(result.scheduled)}); the other events "
            f"follow at {options.rate:g}/s"
        )
        supervisor.apply(schedule, seed=options.seed)
        if options.broker_faults is not None and run.cluster is not None:
            faults = BrokerFaults(
                run.cluster, kafka, supervisor.until, run.note, options.broker_down_s
            )
            result.broker_events = faults.apply(options.broker_faults, kafka.topic(ACTIVITY))
        schedule_done = time.monotonic()
        supervisor.until("the input published", publisher.done.is_set)
        result.drained = supervisor.drain([sources, actions])
        result.drain_s = time.monotonic() - schedule_done
        if not result.drained:
            result.stalled_processes = fleet.stacks()
            result.committed_recheck = _committed_now(
                kafka, {worker_group(kafka): sources, delivery_group(kafka): actions}
            )
        fleet.stop()
    except BaseException:
        publisher.stop.set()
        fleet.kill_all()
        raise
    finally:
        watch.stop()
    _collect(run, data, result, fleet, watch.snapshots())
    result.chaos_s = time.monotonic() - started
    run.note(f"chaos run done in {result.chaos_s:.1f}s; outcomes read and compared")


def _collect(
    run: _Run, data: ChaosInput, result: ChaosResult, fleet: Fleet, snapshots: list[Snapshot]
) -> None:
    """Read the chaos run's figures and outcome once it ended, and compare."""
    options, kafka = run.options, run.chaos
    sources = (kafka.topic(ACTIVITY), kafka.topic(PROFILE))
    actions = (kafka.topic(ACTION),)
    result.kills, result.exits = list(fleet.kills), list(fleet.exits)
    if not result.drained:
        result.stuck = stuck_partitions(snapshots, STUCK_WINDOW_S)
    for kill in (k for k in result.kills if k.kind == "SIGKILL"):
        if kill.member_kind == "worker":
            result.worker_recovery_s.append(recovery_time(kill.at, snapshots, sources))
        else:
            result.delivery_recovery_s.append(recovery_time(kill.at, snapshots, actions))
    result.longest_stall_s = longest_stall(snapshots)
    if options.broker_faults is not None:
        result.in_sync_at_end = _settled_in_sync(kafka)
        # Every event was acknowledged (a failed publish ends the run with an error).
        published = [str(event["event_id"]) for event in data.events]
        result.publish = publish_check(published, activity_event_ids(kafka, run.wire))
    result.chaos = read_outcome(kafka, run.wire)
    sent = message_ids(run.run_dir / "delivery" / "outbox")
    result.emails = sum(sent.values())
    result.duplicate_sends = duplicate_sends(sent)
    result.delivery_outcomes = delivery_outcomes(kafka, run.wire)
    assert result.reference is not None
    result.comparison = compare(result.reference, result.chaos)


def _committed_now(
    kafka: KafkaSettings, groups: Mapping[str, tuple[str, ...]]
) -> dict[PartitionId, int]:
    """Each group's committed offsets read by a fresh client, next to the watch's view of a
    run that did not drain (a stale watch and a group that does not commit looked the same).
    Empty when the cluster does not answer within the request timeout: the report shows the
    watch's view alone."""
    try:
        with topic_admin.admin_client(kafka, timeout_s=REQUEST_TIMEOUT_S) as admin:
            committed = admin.list_group_offsets({group: None for group in groups})
    except (KafkaError, NurtureError):
        return {}
    return {
        PartitionId(tp.topic, tp.partition): found.offset
        for group, topics in groups.items()
        for tp, found in (committed.get(group) or {}).items()
        if tp.topic in topics and found.offset >= 0
    }


def _settled_in_sync(kafka: KafkaSettings, wait_s: float = 30.0) -> bool | None:
    """Whether every partition of the cluster is in sync, asked until it is (or ``wait_s``
    passed: the last answer, None when the cluster did not answer)."""
    deadline = time.monotonic() + wait_s
    while True:
        answer = in_sync(kafka)
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(1.0)


def _fleet(run: _Run) -> Fleet:
    """``workers`` worker slots and one delivery slot, each with its own data dir and log."""

    def worker(name: str) -> Callable[[], ChildProcess]:
        return lambda: ChildProcess(
            ("worker",),
            worker_env(run.chaos, run.run_dir / name, run.erasure_secret),
            run.run_dir / f"{name}.log",
        )

    def delivery() -> ChildProcess:
        env = delivery_env(run.chaos, run.run_dir / "delivery", run.kek, run.tracking_secret)
        return ChildProcess(
            ("deliver", "--channel", DELIVERY_CHANNEL), env, run.run_dir / "delivery.log"
        )

    names = [f"worker-{n}" for n in range(1, run.options.workers + 1)]
    members = [Member(name, "worker", worker(name)) for name in names]
    return Fleet([*members, Member("delivery", "delivery", delivery)])


def _kinds(counts: Mapping[KillKind, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def _clean_up(kafka: KafkaSettings, run: _Run, result: ChaosResult) -> None:
    if run.options.keep:
        result.kept_dir = run.run_dir
        run.note(f"kept: topics and groups under {run.options.prefix!r}, directory {run.run_dir}")
        return
    try:
        removed = delete_run(kafka, run.options.prefix)
        result.cleanup_problems = removed.problems
        run.note(f"deleted {len(removed.topics)} topics and {len(removed.groups)} groups")
    except (KafkaError, NurtureError) as exc:
        result.cleanup_problems = [f"{type(exc).__name__}: {exc}"]
    shutil.rmtree(run.run_dir, ignore_errors=True)
