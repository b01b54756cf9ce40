"""`nurture chaos`: kill workers on Faust's schedule and compare with a fault-free run
(docs/chaos.md)."""

from __future__ import annotations

import json
import re
import secrets
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from deploy.cli.context import console, err_console, fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings

if TYPE_CHECKING:
    from deploy.broker.cluster import LocalCluster
    from deploy.chaos.broker_faults import BrokerFaultMode
    from deploy.chaos.result import ChaosOptions, ChaosResult

#: Exit status when the prefix is taken or an option is invalid.
EXIT_USAGE = 2
#: Exit status when the run could not be carried out (Kafka down, the reference run failed).
EXIT_NOT_RUN = 3
#: Exit status after Ctrl-C (everything was cleaned up).
EXIT_INTERRUPTED = 130

_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]+")


def chaos(  # noqa: PLR0917 - typer takes each option as a parameter
    ctx: typer.Context,
    workers: Annotated[
        int, typer.Option(min=1, max=4, help="Worker processes in the chaos run's group.")
    ] = 2,
    events: Annotated[
        int, typer.Option(min=1, help="Simulated activity events (plus 2% duplicates).")
    ] = 20_000,
    candidates: Annotated[int, typer.Option(min=1, help="Simulated candidates.")] = 2_000,
    rate: Annotated[
        float,
        typer.Option(min=1.0, help="Events/s published while the schedule runs (after 30%)."),
    ] = 200.0,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the input and the schedule (default: random).")
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Multiplies Faust's kill counts (100 SIGTERM-or-SIGINT, 50 SIGTERM, 30 "
            "SIGKILL), rounded up; 0: no kills. Default 1, and 0 with --broker-faults.",
        ),
    ] = None,
    pause: Annotated[
        str,
        typer.Option(
            help="Range of the random pause before each kill, seconds, as MIN:MAX (Faust's "
            "0.1:1). Pauses longer than the session timeout space the SIGKILLs out, so each "
            "recovery is measured alone.",
        ),
    ] = "0.1:1",
    prefix: Annotated[
        str | None,
        typer.Option(help="Fresh topic and group prefix (default chaos-<random>-)."),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the topics, groups and run directory at the end."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    timeout: Annotated[
        float, typer.Option(min=30.0, help="Seconds for the whole run, clean-up included.")
    ] = 900.0,
    broker_faults: Annotated[
        str | None,
        typer.Option(
            "--broker-faults",
            help="On the local cluster (`nurture broker start --nodes 3`; --cluster-dir): "
            "'kill' SIGKILLs the broker leading the most activity partitions mid-run and "
            "restarts it after --broker-down; 'rolling' restarts every broker in turn.",
        ),
    ] = None,
    cluster_dir: Annotated[
        Path | None,
        typer.Option(help="Data dir of the local cluster (default: that of `--nodes 3`)."),
    ] = None,
    broker_down: Annotated[
        float, typer.Option(min=0.0, help="Seconds a killed broker stays down.")
    ] = 10.0,
) -> None:
    """Kill `nurture worker` processes (and now and then the e-mail delivery consumer) with
    SIGTERM, SIGINT and SIGKILL while they process a seeded input, restart each at once, and
    compare the outcome with one fault-free worker's: every candidate's last engagement and
    suppression record and the set of action ids; also duplicate e-mails, stuck partitions,
    dead letters and unexpected exit codes.

    Exit status: 0 nothing found, 1 a difference, duplicate send, stuck partition, undrained
    run or unexpected exit; 2 invalid options or a prefix in use; 3 the run could not be
    carried out; 130 interrupted. Topics, groups, processes and the run directory are removed
    at the end (not with --keep). The global --topic-prefix is not used: see --prefix.
    """
    # Imported here (as in the helpers below): every `nurture` process (workers, delivery)
    # imports this module, and the harness pulls in the replay readers, which only this command
    # needs.
    from deploy.chaos.result import ChaosOptions  # noqa: PLC0415

    chosen_prefix = _checked_prefix(prefix)
    pause_s = _pause_range(pause)
    fault_mode = _broker_fault_mode(broker_faults)
    kafka, cluster = _with_cluster(kafka_settings(ctx), broker_faults, cluster_dir)
    options = ChaosOptions(
        seed=seed if seed is not None else secrets.randbelow(1 << 31),
        prefix=chosen_prefix,
        workers=workers,
        events=events,
        candidates=candidates,
        rate=rate,
        scale=scale if scale is not None else (0.0 if broker_faults else 1.0),
        pause_s=pause_s,
        keep=keep,
        timeout_s=timeout,
        broker_faults=fault_mode,
        broker_down_s=broker_down,
        schema_registry=SchemaRegistrySettings(),
    )
    result = _run_interruptible(kafka, options, cluster)
    raise typer.Exit(_print_figures(result, as_json=as_json))


def _checked_prefix(prefix: str | None) -> str:
    """``--prefix``, or a fresh random one; only characters a topic name allows."""
    chosen = prefix if prefix is not None else f"chaos-{secrets.token_hex(4)}-"
    if not _TOPIC_CHARS.fullmatch(chosen):
        raise fail(f"--prefix {chosen!r}: use letters, digits, '.', '_' or '-'", EXIT_USAGE)
    return chosen


def _broker_fault_mode(broker_faults: str | None) -> BrokerFaultMode | None:
    """``--broker-faults`` as one of the modes (None: no broker faults)."""
    from deploy.chaos.broker_faults import BROKER_FAULT_MODES  # noqa: PLC0415

    if broker_faults is None:
        return None
    mode = next((m for m in BROKER_FAULT_MODES if m == broker_faults), None)
    if mode is None:
        raise fail(f"--broker-faults: one of {', '.join(BROKER_FAULT_MODES)}", EXIT_USAGE)
    return mode


def _run_interruptible(
    kafka: KafkaSettings, options: ChaosOptions, cluster: LocalCluster | None
) -> ChaosResult:
    """Both runs, with SIGINT and SIGTERM stopping them as Ctrl-C does; its errors as exit
    statuses (a prefix in use: 2; the run could not be carried out: 3; interrupted: 130)."""
    from deploy.chaos.harness import run_chaos  # noqa: PLC0415
    from deploy.chaos.result import PrefixInUseError  # noqa: PLC0415

    def say(line: str) -> None:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)

    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run_chaos(kafka, options, say, cluster)
    except PrefixInUseError as exc:
        raise fail(exc, EXIT_USAGE) from exc
    except NurtureError as exc:
        raise fail(exc, EXIT_NOT_RUN) from exc
    except KeyboardInterrupt:
        raise fail(
            "interrupted; processes stopped and the run cleaned up", EXIT_INTERRUPTED
        ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_figures(result: ChaosResult, *, as_json: bool) -> int:
    """Print the run's figures (as JSON or text); return the exit status they call for."""
    from deploy.chaos.report import figures, render_text  # noqa: PLC0415

    data = figures(result)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        for line in render_text(data):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return int(data["exit_status"])


def _with_cluster(
    kafka: KafkaSettings, broker_faults: str | None, cluster_dir: Path | None
) -> tuple[KafkaSettings, LocalCluster | None]:
    """The settings to run with and, for broker faults, the local cluster (every node must
    run: a fault on a cluster already missing a broker could take a partition's last copy)."""
    if broker_faults is None:
        return kafka, None
    from deploy.broker.cluster import LocalCluster  # noqa: PLC0415
    from deploy.broker.settings import BrokerSettings, default_cluster_data_dir  # noqa: PLC0415

    settings = BrokerSettings(nodes=3, cluster_data_dir=cluster_dir or default_cluster_data_dir())
    cluster = LocalCluster(settings)
    nodes = cluster.status()
    if not any(node.status.running for node in nodes):
        raise fail(
            f"no local cluster runs in {cluster.settings.data_dir}: "
            "`nurture broker start --nodes 3` first",
            EXIT_NOT_RUN,
        )
    down = [node.node_id for node in nodes if not node.status.running]
    if down:
        raise fail(
            f"cluster nodes {down} are not running: `nurture broker start` them first",
            EXIT_NOT_RUN,
        )
    return kafka.model_copy(update={"bootstrap_servers": cluster.bootstrap_servers}), cluster


def _pause_range(text: str) -> tuple[float, float]:
    """``MIN:MAX`` seconds (``N`` alone: always N)."""
    low, _, high = text.partition(":")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise fail(f"--pause {text!r}: give MIN:MAX in seconds, e.g. 0.1:1", EXIT_USAGE) from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise fail(f"--pause {text!r}: need 0 <= MIN <= MAX", EXIT_USAGE)
    return bounds


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM (a cancelled CI job) and SIGINT (also where a shell ignored it for a background
    job) both stop the run the way Ctrl-C does: children killed, topics and groups deleted."""
    raise KeyboardInterrupt(f"signal {signum}")
