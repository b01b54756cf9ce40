"""`nurture up`: run the whole pipeline on this machine (the README's "run" command)."""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from deploy import topics as topic_admin
from deploy.broker.process import LocalBroker, answers_metadata
from deploy.broker.settings import BrokerSettings
from deploy.cli.context import console, fail, kafka_settings
from deploy.up.plan import UpOptions, pipeline_children
from deploy.up.supervisor import Supervisor
from schemas.errors import NurtureError


def _is_local_default(bootstrap: str, broker: BrokerSettings) -> bool:
    return bootstrap == broker.listener


def _status_table(supervisor: Supervisor) -> Table:
    table = Table("process", "status", "pid", "restarts", "last exit", "log", title="nurture up")
    for child in supervisor.children:
        pid = child.process.pid if child.process else None
        table.add_row(
            child.spec.name,
            child.status,
            str(pid or "-"),
            str(child.restarts),
            "-" if child.last_exit is None else str(child.last_exit),
            str(supervisor.log_file(child.spec.name)),
        )
    return table


def up(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Also run the simulator as input.")] = False,
    no_ui: Annotated[
        bool, typer.Option("--no-ui", help="Plain logs instead of the live view.")
    ] = False,
    gateway_port: Annotated[int, typer.Option("--gateway-port", help="Gateway HTTP port.")] = 8080,
    worker_port: Annotated[
        int, typer.Option("--worker-port", help="Worker HTTP port (score look-ups).")
    ] = 6066,
) -> None:
    """Run the pipeline: broker (if none is reachable locally), topics, workers, gateway.

    Against an external cluster (--bootstrap / NURTURE_BOOTSTRAP_SERVERS) no broker is touched.
    Ctrl-C or SIGTERM stops every child cleanly, in order.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = kafka_settings(ctx)
    broker_settings = BrokerSettings()
    try:
        if not answers_metadata(settings, timeout_s=3.0):
            if not _is_local_default(settings.bootstrap_servers, broker_settings):
                raise fail(f"Kafka at {settings.bootstrap_servers} is not reachable")
            status, _ = LocalBroker(broker_settings).start()
            console.print(f"started local Kafka {status.kafka_version} on {status.listener}")
        report = topic_admin.create_all(settings)
    except NurtureError as exc:
        raise fail(exc) from exc
    for name, diffs in report.conflicts.items():
        console.print(f"[yellow]topic {name} differs from its declaration:[/] {'; '.join(diffs)}")

    options = UpOptions(demo=demo, gateway_port=gateway_port, worker_web_port=worker_port)
    state_dir = broker_settings.data_dir.parent
    supervisor = Supervisor(pipeline_children(settings, options, state_dir), state_dir / "logs")
    console.print(
        f"logs in {state_dir / 'logs'}; gateway on http://127.0.0.1:{gateway_port} "
        f"(API keys: {state_dir / 'gateway-api-keys'} unless NURTURE_GATEWAY_API_KEYS is set)"
    )
    stop_requested = False

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    supervisor.start_all()
    try:
        if no_ui:
            while not stop_requested and not supervisor.all_finished:
                supervisor.poll()
                time.sleep(0.5)
        else:
            with Live(_status_table(supervisor), console=console, refresh_per_second=2) as live:
                while not stop_requested and not supervisor.all_finished:
                    supervisor.poll()
                    live.update(_status_table(supervisor))
                    time.sleep(0.5)
    finally:
        console.print("stopping the pipeline ...")
        supervisor.stop_all()
        console.print("stopped")
