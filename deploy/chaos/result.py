"""What a chaos run is asked to do, and what it found (plain data; the verdict is pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from deploy.chaos.broker_faults import BrokerEvent, BrokerFaultMode, PublishCheck
from deploy.chaos.compare import Comparison
from deploy.chaos.outcome import Outcome
from deploy.chaos.processes import ExitRecord, KillRecord
from deploy.chaos.progress import PartitionId, Position, percentile
from deploy.chaos.schedule import KillKind, count_kinds
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings


class ChaosError(NurtureError):
    """Raised when a chaos run cannot be carried out (as opposed to finding a problem)."""


class PrefixInUseError(ChaosError):
    """Raised when topics or groups already use the prefix: the run deletes by prefix."""

    def __init__(self, prefix: str, found: list[str]) -> None:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        super().__init__(f"prefix {prefix!r} is already in use ({shown}); choose a fresh one")
        self.prefix = prefix
        self.found = found


class ChaosTimeoutError(ChaosError):
    """Raised when a step that must finish (profiles in, reference caught up) does not finish
    before the run's deadline."""


@dataclass(frozen=True)
class ChaosOptions:
    """What to run (the options of `nurture chaos`)."""

    seed: int
    #: topic (and group) prefix of the chaos run; the reference run uses ``<prefix>ref-``
    prefix: str
    workers: int = 2
    events: int = 20_000
    candidates: int = 2_000
    #: activity events per second published while the schedule runs
    rate: float = 200.0
    #: multiplies the kill counts of Faust's schedule (0: no kills)
    scale: float = 1.0
    #: range of the random pause before each kill, seconds (Faust's: 0.1-1 s)
    pause_s: tuple[float, float] = (0.1, 1.0)
    keep: bool = False
    #: seconds for the whole run, set-up and clean-up included
    timeout_s: float = 900.0
    #: broker faults on a local cluster after the kill schedule (None: none)
    broker_faults: BrokerFaultMode | None = None
    #: seconds a killed broker stays down
    broker_down_s: float = 10.0
    #: Schema Registry mode of both runs (None or no URL: off, single-object frames); the
    #: children inherit the NURTURE_SCHEMA_REGISTRY_* these came from
    schema_registry: SchemaRegistrySettings | None = None

    @property
    def reference_prefix(self) -> str:
        return f"{self.prefix}ref-"


@dataclass
class ChaosResult:
    """Figures of a finished run (see docs/chaos.md for what each proves)."""

    options: ChaosOptions
    profiles: int = 0
    #: activity events published to each run, duplicates included
    events: int = 0
    duplicates: int = 0
    #: the kills the schedule asked for, per kind
    scheduled: dict[KillKind, int] = field(default_factory=dict)
    kills: list[KillRecord] = field(default_factory=list)
    exits: list[ExitRecord] = field(default_factory=list)
    #: per SIGKILL of a worker: seconds until the group committed progress again (None: not
    #: measurable, e.g. nothing was waiting at the kill)
    worker_recovery_s: list[float | None] = field(default_factory=list)
    delivery_recovery_s: list[float | None] = field(default_factory=list)
    reference: Outcome | None = None
    chaos: Outcome | None = None
    comparison: Comparison | None = None
    #: e-mails in the Maildir and the Message-IDs found more than once
    emails: int = 0
    duplicate_sends: dict[str, int] = field(default_factory=dict)
    delivery_outcomes: Counter[str] = field(default_factory=Counter)
    drained: bool = False
    stuck: list[tuple[PartitionId, Position]] = field(default_factory=list)
    #: when the run did not drain: each running process's log tail, its thread stacks and state last
    stalled_processes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: when the run did not drain: committed offsets as a fresh client reads them at the end
    committed_recheck: dict[PartitionId, int] = field(default_factory=dict)
    #: seconds
    reference_s: float = 0.0
    chaos_s: float = 0.0
    drain_s: float = 0.0
    #: the run directory, when kept (--keep)
    kept_dir: Path | None = None
    #: the broker faults applied, in order
    broker_events: list[BrokerEvent] = field(default_factory=list)
    #: the chaos run's candidate.activity against the events published and acknowledged
    publish: PublishCheck | None = None
    #: the longest time records waited with no committed offset moving (seconds)
    longest_stall_s: float = 0.0
    #: after broker faults: every partition of the run's topics in sync at the end
    in_sync_at_end: bool | None = None
    cleanup_problems: list[str] = field(default_factory=list)

    def kills_by_kind(self, member_kind: str | None = None) -> dict[KillKind, int]:
        return count_kinds(
            k.kind for k in self.kills if member_kind is None or k.member_kind == member_kind
        )

    @property
    def unexpected_exits(self) -> list[ExitRecord]:
        return [e for e in self.exits if not e.expected]

    def recovery_percentiles(self) -> tuple[float | None, float | None]:
        """p50 and p99 of the measured recovery times after a worker's SIGKILL."""
        measured = [s for s in self.worker_recovery_s if s is not None]
        return percentile(measured, 50), percentile(measured, 99)

    def findings(self) -> list[str]:
        """Why the run is not clean (empty: clean)."""
        found = []
        if self.comparison is None:
            found.append("the outcomes were not compared")
        elif not self.comparison.clean:
            found.append("the outcome differs from the reference")
        if self.duplicate_sends:
            found.append("e-mails were sent twice")
        if not self.drained:
            found.append("the chaos run did not drain")
        if self.stuck:
            found.append("partitions are stuck")
        if self.unexpected_exits:
            found.append("processes exited unexpectedly")
        if self.publish is not None and (self.publish.missing or self.publish.extra_copies):
            found.append("acknowledged events are missing from or repeated in candidate.activity")
        if self.in_sync_at_end is False:
            found.append("partitions are under-replicated at the end")
        return found

    @property
    def clean(self) -> bool:
        return not self.findings()
