"""`nurture broker start|stop|status|logs|kill|restart`: the local KRaft broker, or a cluster of
several on this host (``--nodes 3``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploy.broker.cluster import LocalCluster, formatted_nodes
from deploy.broker.process import BrokerStatus, LocalBroker, status_dict
from deploy.broker.secure import SecureLocalBroker, client_env, local_broker
from deploy.broker.settings import BrokerSettings
from deploy.cli.context import console, fail
from schemas.errors import NurtureError

app = typer.Typer(
    help="Run a real local Apache Kafka 4.x broker (KRaft), or a cluster of several.",
    no_args_is_help=True,
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


NodesOption = Annotated[
    int | None,
    typer.Option(
        "--nodes",
        help="Brokers: more than one is a KRaft cluster on this host, listeners on --port, "
        "--port+1, ... and its own data dir (env NURTURE_BROKER_NODES).",
    ),
]
NodeArgument = Annotated[int, typer.Argument(help="The cluster node (1, 2, 3, ...).")]


def _settings(
    port: int | None,
    data_dir: Path | None,
    secure: bool | None = None,
    nodes: int | None = None,
) -> BrokerSettings:
    overrides: dict[str, object] = {}
    if secure is not None:
        overrides["secure"] = secure
    if port is not None:
        overrides["port"] = port
    if data_dir is not None and nodes is None:
        nodes = formatted_nodes(data_dir)  # the data dir of a cluster: its node count
    if data_dir is not None:
        overrides["cluster_data_dir" if (nodes or 1) > 1 else "data_dir"] = data_dir
    if nodes is not None:
        overrides["nodes"] = nodes
    return BrokerSettings(**overrides)  # type: ignore[arg-type]


def _broker(
    port: int | None, data_dir: Path | None, secure: bool | None = None, nodes: int | None = None
) -> LocalBroker | LocalCluster:
    """The single broker, or the cluster when --nodes is above one or the data dir holds one."""
    settings = _settings(port, data_dir, secure, nodes)
    if settings.nodes > 1:
        return LocalCluster(settings)
    return local_broker(settings)


def _cluster(port: int | None, data_dir: Path | None, nodes: int | None) -> LocalCluster:
    """The cluster of `kill` and `restart` (its default data dir unless given)."""
    return LocalCluster(_settings(port, data_dir, nodes=nodes if nodes is not None else 3))


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
    port: PortOption = None,
    data_dir: DataDirOption = None,
    secure: SecureOption = None,
    nodes: NodesOption = None,
) -> None:
    """Start the broker in the background; returns once it answers metadata requests.

    Fetches the Kafka jars from Maven Central into the cache the first time. With --secure the
    only client listener is SASL_SSL; the first start makes a throw-away CA, the broker's
    certificate and two SCRAM users, and prints where they are (see SECURITY.md). With
    --nodes 3, three brokers (each also a controller) on --port, --port+1, --port+2; prints
    the bootstrap list.
    """
    broker = _broker(port, data_dir, secure, nodes)
    try:
        if isinstance(broker, LocalCluster):
            statuses, started = broker.start()
        else:
            status, started = broker.start()
    except NurtureError as exc:
        raise fail(exc) from exc
    verb = "started" if started else "already running"
    if isinstance(broker, LocalCluster):
        first = statuses[0].status
        console.print(
            f"Kafka {first.kafka_version} cluster of {len(statuses)} {verb}, data dir "
            f"{broker.settings.data_dir}",
            highlight=False,
        )
        for node in statuses:
            console.print(
                f"  node {node.node_id}: pid {node.status.pid}, listener {node.status.listener}",
                highlight=False,
            )
        console.print(f"bootstrap servers: {broker.bootstrap_servers}", highlight=False)
        console.print(
            f"Clients:  export NURTURE_BOOTSTRAP_SERVERS={broker.bootstrap_servers}",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(
        f"Kafka {status.kafka_version} {verb}: pid {status.pid}, listener {status.listener}, "
        f"data dir {status.data_dir}"
    )
    if isinstance(broker, SecureLocalBroker):
        _print_client_setup(broker)


@app.command()
def stop(
    port: PortOption = None,
    data_dir: DataDirOption = None,
    secure: SecureOption = None,
    nodes: NodesOption = None,
) -> None:
    """Stop the broker cleanly (controlled shutdown; killed after a timeout). Without options
    it also stops the default cluster (`start --nodes N`) when that runs."""
    broker = _broker(port, data_dir, secure, nodes)
    stopped = broker.stop()
    if port is None and data_dir is None and nodes is None and not isinstance(broker, LocalCluster):
        cluster = LocalCluster(_settings(None, None, nodes=3))
        if cluster.meta_file.exists() and cluster.stop():
            console.print("Kafka cluster stopped")
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@app.command()
def status(
    port: PortOption = None,
    data_dir: DataDirOption = None,
    secure: SecureOption = None,
    nodes: NodesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Report running/stopped, pid, listener, data dir, Kafka version (per node of a cluster).
    Exit 1 when stopped (for a cluster: when any node is)."""
    broker = _broker(port, data_dir, secure, nodes)
    if isinstance(broker, LocalCluster):
        statuses = broker.status()
        if as_json:
            typer.echo(json.dumps([{"node": n.node_id, **status_dict(n.status)} for n in statuses]))
        else:
            for node in statuses:
                _print_status(node.status, f"node {node.node_id}: ")
            console.print(f"bootstrap servers: {broker.bootstrap_servers}", highlight=False)
        if not statuses or not all(n.status.running for n in statuses):
            raise typer.Exit(1)
        return
    st = broker.status()
    if as_json:
        typer.echo(json.dumps(status_dict(st)))
    else:
        _print_status(st)
    if not st.running:
        raise typer.Exit(1)


def _print_status(st: BrokerStatus, prefix: str = "") -> None:
    state = "running" if st.running else "stopped"
    console.print(
        f"{prefix}{state}\n  pid: {st.pid or '-'}\n  listener: {st.listener}\n"
        f"  data dir: {st.data_dir}\n  log: {st.log_file}\n  kafka: {st.kafka_version}",
        highlight=False,
    )


@app.command()
def logs(
    *,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    secure: SecureOption = None,
    nodes: NodesOption = None,
    node: Annotated[int | None, typer.Option("--node", help="Only this cluster node.")] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 40,
) -> None:
    """Print the last lines of the broker's log (of each node of a cluster)."""
    broker = _broker(port, data_dir, secure, nodes)
    try:
        if isinstance(broker, LocalCluster):
            typer.echo(broker.log_tail(node, lines))
        else:
            typer.echo(broker.log_tail(lines))
    except NurtureError as exc:
        raise fail(exc) from exc


@app.command()
def kill(
    node: NodeArgument,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    nodes: NodesOption = None,
) -> None:
    """SIGKILL one node of the cluster (a broker crash, for fault tests)."""
    try:
        killed = _cluster(port, data_dir, nodes).kill(node)
    except NurtureError as exc:
        raise fail(exc) from exc
    console.print(f"node {node} killed" if killed else f"node {node} was not running")


@app.command()
def restart(
    node: NodeArgument,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    nodes: NodesOption = None,
) -> None:
    """Restart one node of the cluster (controlled stop if it runs), once it answers again."""
    try:
        st = _cluster(port, data_dir, nodes).restart(node)
    except NurtureError as exc:
        raise fail(exc) from exc
    console.print(f"node {node} running: pid {st.pid}, listener {st.listener}", highlight=False)
