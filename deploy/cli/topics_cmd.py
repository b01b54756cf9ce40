"""`nurture topics create|list|describe`: the declared topics (schemas/topics.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from deploy.cli.context import console, fail, kafka_settings
from schemas.errors import NurtureError
from schemas.kafka_seam import reader, topic_admin
from schemas.kafka_seam.proto import TopicReader
from schemas.schema_registry import framing
from schemas.settings import KafkaSettings
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
    and leaderless partitions. ``framing``: which Avro framing the last records of each
    partition carry (single-object, confluent, mixed, empty; none for topics without Avro)."""
    settings = kafka_settings(ctx)
    names = [settings.topic(spec.name) for spec in TOPICS]
    try:
        states = topic_admin.describe(settings, names)
        brokers = topic_admin.cluster_brokers(settings)
        avro = [settings.topic(spec.name) for spec in TOPICS if spec.subjects]
        framings = topic_framings(settings, [name for name in avro if name in states])
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
                "framing": framings.get(name),
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
        "topic",
        "partitions",
        "repl",
        "min isr",
        "isr",
        "cleanup",
        "retention.ms",
        "framing",
        "status",
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
            str(row["framing"] or "-"),
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


#: Records per partition ``topics describe`` looks at (the last ones) to tell the framing.
FRAMING_SAMPLE = 5
#: Longest wait for one sampled partition's records (s).
SAMPLE_STALL_S = 10.0

TopicFraming = Literal["single-object", "confluent", "mixed", "empty"]


def topic_framings(kafka: KafkaSettings, topics: Sequence[str]) -> dict[str, TopicFraming]:
    """The framing of each of ``topics`` (full names, existing) from the last
    :data:`FRAMING_SAMPLE` records of every partition."""
    topics_reader = reader.open_reader(kafka)
    try:
        return {topic: framing_of_topic(_last_values(topics_reader, topic)) for topic in topics}
    finally:
        topics_reader.close()


def _last_values(topics: TopicReader, topic: str) -> Iterable[bytes | None]:
    partitions = topics.partitions_for(topic)
    ends = topics.end_offsets(partitions, SAMPLE_STALL_S)
    starts = topics.beginning_offsets(partitions, SAMPLE_STALL_S)
    for tp in partitions:
        start = max(starts[tp], ends[tp] - FRAMING_SAMPLE)
        for record in reader.read_range(
            topics, tp, start, ends[tp], stall_timeout_s=SAMPLE_STALL_S
        ):
            yield record.value


def framing_of_topic(values: Iterable[bytes | None]) -> TopicFraming:
    """``empty`` when no value is Avro of either framing (no records, tombstones only),
    ``mixed`` when both framings occur, else the one that does. Values of neither framing
    (a C3 01 marker missing and no 00 byte) are left out."""
    seen: set[framing.Framing] = set()
    for value in values:
        if value and (value[0] == 0 or value[:2] == b"\xc3\x01"):
            seen.add(framing.framing_of(value))
    if not seen:
        return "empty"
    return "mixed" if len(seen) > 1 else next(iter(seen))
