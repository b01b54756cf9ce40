"""`nurture registry start|stop|status|logs`: a local Apicurio Registry (a schema registry with
a Confluent-compatible API) for development and tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploy.cli.context import console, fail
from deploy.registry.process import LocalRegistry, RegistryStatus, status_dict
from deploy.registry.settings import RegistrySettings
from schemas.errors import NurtureError

app = typer.Typer(
    help="Run a local Apicurio Registry (Confluent-compatible schema registry API, in memory).",
    no_args_is_help=True,
)

PortOption = Annotated[
    int | None,
    typer.Option(
        "--port",
        help="HTTP port on 127.0.0.1 (env NURTURE_REGISTRY_PORT, default 8081); the management "
        "interface takes the next one unless NURTURE_REGISTRY_MANAGEMENT_PORT is set.",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Pid file and log folder (default: user data dir)."),
]


def _registry(data_dir: Path | None, port: int | None = None) -> LocalRegistry:
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return LocalRegistry(RegistrySettings(**overrides))  # type: ignore[arg-type]


@app.command()
def start(port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Start the registry in the background; returns once its API answers and prints the
    Confluent-compatible URL. Fetches Apicurio Registry from Maven Central into the cache the
    first time; needs Java 21+. Says so, and where it is, when it already runs."""
    registry = _registry(data_dir, port)
    try:
        status, started = registry.start()
    except NurtureError as exc:
        raise fail(exc) from exc
    verb = "started" if started else "already running"
    console.print(
        f"Apicurio Registry {status.version} {verb}: pid {status.pid}, data dir "
        f"{status.data_dir}\nConfluent-compatible API: {status.url}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def stop(data_dir: DataDirOption = None) -> None:
    """Stop the registry (SIGTERM; killed after a timeout). Its schemas are gone with it."""
    stopped = _registry(data_dir).stop()
    console.print("registry stopped" if stopped else "registry was not running")


@app.command()
def status(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Report running/stopped, pid, URL (Confluent-compatible API), ports, data dir, version.
    Exit 1 when stopped."""
    st = _registry(data_dir).status()
    if as_json:
        typer.echo(json.dumps(status_dict(st)))
    else:
        _print_status(st)
    if not st.running:
        raise typer.Exit(1)


@app.command()
def logs(
    data_dir: DataDirOption = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 40,
) -> None:
    """Print the last lines of the registry's log."""
    typer.echo(_registry(data_dir).log_tail(lines))


def _print_status(st: RegistryStatus) -> None:
    state = "running" if st.running else "stopped"
    console.print(
        f"{state}\n  pid: {st.pid or '-'}\n  url: {st.url}\n  management port: "
        f"{st.management_port}\n  data dir: {st.data_dir}\n  log: {st.log_file}\n"
        f"  apicurio registry: {st.version}\n  java: {st.java_home or '-'}",
        highlight=False,
        soft_wrap=True,
    )
