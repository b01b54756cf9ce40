"""`nurture topics export|import` (also `nurture topic ...`): topic ranges as JSON lines."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from deploy.cli.context import err_console, fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.codec import wire_codec
from schemas.schema_registry.settings import SchemaRegistrySettings
from streams.replay import topic_io
from streams.replay.times import parse_time

TopicArgument = Annotated[
    str, typer.Argument(help="Topic as declared, e.g. candidate.activity (prefix added).")
]


def export(
    ctx: typer.Context,
    topic: TopicArgument,
    from_time: Annotated[
        str | None, typer.Option("--from", help="First record time (default: the beginning).")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option("--to", help="End time, exclusive (default: the current end).")
    ] = None,
) -> None:
    """Write the topic's records in [--from, --to) to stdout as JSON lines (decoded values).

    Example: nurture topics export candidate.activity --from 2026-11-01 --to 2026-11-02 > day.jsonl

    Schema Registry mode (NURTURE_SCHEMA_REGISTRY_URL): both framings are decoded, each line
    says its record's ``framing``.
    """
    kafka = kafka_settings(ctx)
    wire = wire_codec(SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix)
    try:
        from_ms = None if from_time is None else parse_time(from_time)
        to_ms = None if to_time is None else parse_time(to_time)
        count = 0
        out = sys.stdout.buffer
        for line in topic_io.export_lines(kafka, kafka.topic(topic), from_ms, to_ms, wire):
            out.write(line + b"\n")
            count += 1
        out.flush()
    except NurtureError as exc:
        raise fail(exc) from exc
    err_console.print(f"exported {count} record(s) of {kafka.topic(topic)}")


def import_(ctx: typer.Context, topic: TopicArgument) -> None:
    """Produce JSON lines from stdin (as export writes them) to the topic: values re-encoded,
    same keys, headers and timestamps. Nothing is sent if any line is invalid (exit 1).

    Values are written in this deployment's framing (Confluent in Schema Registry mode, else
    single-object), whichever framing the exported record had."""
    kafka = kafka_settings(ctx)
    wire = wire_codec(SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix)
    try:
        count = topic_io.import_lines(kafka, kafka.topic(topic), sys.stdin.buffer, wire)
    except NurtureError as exc:
        raise fail(exc) from exc
    err_console.print(f"imported {count} record(s) into {kafka.topic(topic)}")
