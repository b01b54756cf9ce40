"""`nurture broker start|stop|status`: the local single-node KRaft broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploy.broker.process import LocalBroker, status_dict
from deploy.broker.settings import BrokerSettings
from deploy.cli.context import console, fail
from schemas.errors import NurtureError

app = typer.Typer(
    help="Run a real local Apache Kafka 4.x broker (KRaft, single node).", no_args_is_help=True
)

PortOption = Annotated[
    int | None, typer.Option("--port", help="PLAINTEXT listener port (default 9092).")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data, config and log folder (default: user data dir)."),
]


def _broker(port: int | None, data_dir: Path | None) -> LocalBroker:
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return LocalBroker(BrokerSettings(**overrides))  # type: ignore[arg-type]


@app.command()
def start(port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Start the broker in the background; returns once it answers metadata requests.

    Fetches the Kafka jars from Maven Central into the cache the first time.
    """
    broker = _broker(port, data_dir)
    try:
        status, started = broker.start()
    except NurtureError as exc:
        raise fail(exc) from exc
    verb = "started" if started else "already running"
    console.print(
        f"Kafka {status.kafka_version} {verb}: pid {status.pid}, listener {status.listener}, "
        f"data dir {status.data_dir}"
    )


@app.command()
def stop(port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Stop the broker cleanly (controlled shutdown; killed after a timeout)."""
    broker = _broker(port, data_dir)
    if broker.stop():
        console.print("Kafka stopped")
    else:
        console.print("Kafka was not running")


@app.command()
def status(
    port: PortOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Report running/stopped, pid, listener, data dir, Kafka version. Exit 1 when stopped."""
    st = _broker(port, data_dir).status()
    if as_json:
        typer.echo(json.dumps(status_dict(st)))
    else:
        state = "running" if st.running else "stopped"
        console.print(
            f"{state}\n  pid: {st.pid or '-'}\n  listener: {st.listener}\n"
            f"  data dir: {st.data_dir}\n  log: {st.log_file}\n  kafka: {st.kafka_version}",
            highlight=False,
        )
    if not st.running:
        raise typer.Exit(1)


@app.command()
def logs(
    port: PortOption = None,
    data_dir: DataDirOption = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 40,
) -> None:
    """Print the last lines of the broker's log."""
    typer.echo(_broker(port, data_dir).log_tail(lines))
