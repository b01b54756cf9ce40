"""`nurture broker start|stop|status`: the local single-node KRaft broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploy.broker.process import LocalBroker, status_dict
from deploy.broker.secure import SecureLocalBroker, client_env, local_broker
from deploy.broker.settings import BrokerSettings
from deploy.cli.context import console, fail
from schemas.errors import NurtureError

app = typer.Typer(
    help="Run a real local Apache Kafka 4.x broker (KRaft, single node).", no_args_is_help=True
)

PortOption = Annotated[
    int | None,
    typer.Option("--port", help="Listener port (default 9092; 9094 with --secure)."),
]
SecureOption = Annotated[
    bool | None,
    typer.Option(
        "--secure/--no-secure",
        help="The SASL_SSL broker (SCRAM-SHA-512 over TLS) with its own port and data dir "
        "(env NURTURE_BROKER_SECURE).",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data, config and log folder (default: user data dir)."),
]


def _broker(port: int | None, data_dir: Path | None, secure: bool | None = None) -> LocalBroker:
    overrides: dict[str, object] = {}
    if secure is not None:
        overrides["secure"] = secure
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return local_broker(BrokerSettings(**overrides))  # type: ignore[arg-type]


def _print_client_setup(broker: SecureLocalBroker) -> None:
    """Where the CA and the credentials are, and how clients use them (never the password)."""
    env = client_env(broker.client_settings())
    names = " ".join(env)
    console.print(
        f"  protocol: SASL_SSL, SCRAM-SHA-512 (users admin, nurture)\n"
        f"  CA certificate: {broker.ca_file}\n"
        f"  credentials: {broker.files.users} (mode 0600)\n"
        f"  client settings: {broker.client_env_file} (mode 0600) sets {names}\n"
        f"To use it from a shell:  set -a; . {broker.client_env_file}; set +a",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command()
def start(
    port: PortOption = None, data_dir: DataDirOption = None, secure: SecureOption = None
) -> None:
    """Start the broker in the background; returns once it answers metadata requests.

    Fetches the Kafka jars from Maven Central into the cache the first time. With --secure the
    only client listener is SASL_SSL; the first start makes a throw-away CA, the broker's
    certificate and two SCRAM users, and prints where they are (see SECURITY.md).
    """
    broker = _broker(port, data_dir, secure)
    try:
        status, started = broker.start()
    except NurtureError as exc:
        raise fail(exc) from exc
    verb = "started" if started else "already running"
    console.print(
        f"Kafka {status.kafka_version} {verb}: pid {status.pid}, listener {status.listener}, "
        f"data dir {status.data_dir}"
    )
    if isinstance(broker, SecureLocalBroker):
        _print_client_setup(broker)


@app.command()
def stop(
    port: PortOption = None, data_dir: DataDirOption = None, secure: SecureOption = None
) -> None:
    """Stop the broker cleanly (controlled shutdown; killed after a timeout)."""
    broker = _broker(port, data_dir, secure)
    if broker.stop():
        console.print("Kafka stopped")
    else:
        console.print("Kafka was not running")


@app.command()
def status(
    port: PortOption = None,
    data_dir: DataDirOption = None,
    secure: SecureOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Report running/stopped, pid, listener, data dir, Kafka version. Exit 1 when stopped."""
    st = _broker(port, data_dir, secure).status()
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
    secure: SecureOption = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 40,
) -> None:
    """Print the last lines of the broker's log."""
    typer.echo(_broker(port, data_dir, secure).log_tail(lines))
