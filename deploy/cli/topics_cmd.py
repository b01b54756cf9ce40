"""`nurture topics create|list|describe`: the declared topics (schemas/topics.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from deploy.cli.context import console, fail, kafka_settings
from schemas.errors import NurtureError
from schemas.kafka_seam import topic_admin
from schemas.topics import TOPICS

app = typer.Typer(help="Create and inspect the pipeline's topics.", no_args_is_help=True)


@app.command()
def create(ctx: typer.Context) -> None:
    """Create every declared topic that is missing; report (never alter) conflicting ones.

    Exit status 2 when an existing topic differs from its declaration, or for a bad
    NURTURE_RETENTION_* override (checked before Kafka is asked).
    """
    settings = kafka_settings(ctx)
    for spec in TOPICS:
        spec.configs()  # raises ConfigError naming a bad NURTURE_RETENTION_* override
    try:
        report = topic_admin.create_all(settings)
    except NurtureError as exc:
        raise fail(exc) from exc
    for name in sorted(report.created):
        console.print(f"created  {name}")
    for name in sorted(report.existing):
        if name not in report.created and name not in report.conflicts:
            console.print(f"exists   {name}")
    for name, diffs in report.conflicts.items():
        console.print(f"[red]CONFLICT[/] {name}: " + "; ".join(diffs))
    if not report.ok:
        raise typer.Exit(2)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List topics in the cluster with this deployment's prefix."""
    settings = kafka_settings(ctx)
    try:
        names = topic_admin.list_topics(settings)
    except NurtureError as exc:
        raise fail(exc) from exc
    for name in names:
        typer.echo(name)


@app.command()
def describe(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Declared topics side by side with what the cluster has: partitions, replication, the
    smallest in-sync replica set against min.insync.replicas, configs; flags under-replicated
    and leaderless partitions."""
    settings = kafka_settings(ctx)
    names = [settings.topic(spec.name) for spec in TOPICS]
    try:
        states = topic_admin.describe(settings, names)
        brokers = topic_admin.cluster_brokers(settings)
    except NurtureError as exc:
        raise fail(exc) from exc
    rows = []
    for spec in TOPICS:
        name = settings.topic(spec.name)
        state = states.get(name)
        rows.append(
            {
                "topic": name,
                "exists": state is not None,
                "partitions": state.partitions if state else None,
                "replication": state.replication if state else None,
                "min.insync.replicas": state.min_insync if state else None,
                "isr_min": state.min_isr_size if state else None,
                "under_replicated": list(state.under_replicated) if state else [],
                "offline": list(state.offline) if state else [],
                "cleanup.policy": state.configs.get("cleanup.policy") if state else None,
                "retention.ms": state.configs.get("retention.ms") if state else None,
                "conflicts": (
                    topic_admin.differences(spec, settings, state, brokers) if state else []
                ),
                "written_by": spec.written_by,
                "read_by": spec.read_by,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        "topic", "partitions", "repl", "min isr", "isr", "cleanup", "retention.ms", "status"
    )
    for row in rows:
        table.add_row(
            str(row["topic"]),
            str(row["partitions"] or "-"),
            str(row["replication"] or "-"),
            str(row["min.insync.replicas"] or "-"),
            "-" if row["isr_min"] is None else str(row["isr_min"]),
            str(row["cleanup.policy"] or "-"),
            str(row["retention.ms"] or "-"),
            _status(row),
        )
    console.print(table)


def _status(row: dict[str, Any]) -> str:
    """ok, missing, conflict, or the partitions that are offline / under-replicated."""
    if not row["exists"]:
        return "missing"
    flags = []
    if row["offline"]:
        flags.append("OFFLINE " + ",".join(map(str, row["offline"])))
    if row["under_replicated"]:
        flags.append("under-replicated " + ",".join(map(str, row["under_replicated"])))
    if row["conflicts"]:
        flags.append("conflict")
    return "; ".join(flags) or "ok"
