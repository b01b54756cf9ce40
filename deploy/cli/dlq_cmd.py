"""`nurture dlq list|show|redrive`: inspect dead letters and re-publish them after a fix."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from deploy.cli.context import console, fail, kafka_settings
from schemas.errors import NurtureError, SchemaError
from schemas.schema_registry.codec import wire_codec
from schemas.schema_registry.framing import framing_of
from schemas.schema_registry.settings import SchemaRegistrySettings
from streams.replay import dead_letters
from streams.replay.times import format_time, parse_time

app = typer.Typer(
    help="Dead letters (reason, origin): list, show, and redrive after a fix.",
    no_args_is_help=True,
)

ErrorOption = Annotated[
    str | None,
    typer.Option(
        "--error",
        help="Only this error class (e.g. CorruptPayloadError, SchemaRegistryUnavailableError) "
        "or delivery reason (e.g. schema_error).",
    ),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Only dead-lettered at or after this time.")
]
TopicOption = Annotated[
    str | None,
    typer.Option("--topic", help="One DLQ: candidate.activity.dlq, candidate.profile.dlq, ..."),
]


def _letters(
    ctx: typer.Context, topic: str | None, error: str | None, since: str | None
) -> list[dead_letters.DeadLetter]:
    kafka = kafka_settings(ctx)
    try:
        since_ms = None if since is None else parse_time(since)
        return list(
            dead_letters.read_letters(
                kafka,
                dead_letters.dlq_topics(kafka, topic),
                error_class=error,
                since_ms=since_ms,
            )
        )
    except NurtureError as exc:
        raise fail(exc) from exc


@app.command("list")
def list_(
    ctx: typer.Context,
    topic: TopicOption = None,
    error: ErrorOption = None,
    since: SinceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Dead letters: id, time, origin, error class and message, whether redriven."""
    letters = _letters(ctx, topic, error, since)
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(_summary(letter)))
        return
    table = Table("id", "dead-lettered", "origin", "error", "message", "redriven")
    for letter in letters:
        origin = letter.origin_topic or "-"
        if letter.origin_partition is not None:
            origin += f"[{letter.origin_partition}]@{letter.origin_offset}"
        table.add_row(
            letter.letter_id,
            format_time(letter.timestamp_ms),
            origin,
            letter.error_class,
            letter.error_message[:80],
            "yes" if letter.redriven else "",
        )
    console.print(table)
    console.print(f"{len(letters)} dead letter(s)")


@app.command()
def show(
    ctx: typer.Context,
    letter_id: Annotated[str, typer.Argument(help="<dlq topic>:<partition>:<offset> (see list).")],
) -> None:
    """One dead letter in full: headers, error, and the value decoded when it can be.

    In Schema Registry mode (NURTURE_SCHEMA_REGISTRY_URL) a Confluent-framed value is decoded
    through the registry; ``framing`` says which framing the value carries.
    """
    kafka = kafka_settings(ctx)
    wire = wire_codec(SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix)
    try:
        letter = dead_letters.find_letter(kafka, letter_id)
    except NurtureError as exc:
        raise fail(exc) from exc
    shown = _summary(letter)
    shown["headers"] = [[k, v.decode("utf-8", "replace")] for k, v in letter.headers]
    shown["framing"] = framing_of(letter.value)
    try:
        decoded = wire.decode(letter.value or b"")
        shown["value"] = {"subject": decoded.subject, "record": decoded.record}
    except SchemaError as exc:
        shown["value"] = {"undecodable": str(exc), "bytes": (letter.value or b"")[:256].hex()}
    typer.echo(json.dumps(shown, indent=2, default=str))


@app.command("redrive")
def redrive_(
    ctx: typer.Context,
    topic: TopicOption = None,
    error: ErrorOption = None,
    since: SinceOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
) -> None:
    """Re-publish dead letters to their origin topics (once: a marker records the redrive).

    The worker de-duplicates activity by event_id, so a redriven event it already counted
    changes nothing. Of nurture.action.dlq only actions that did not decode (reason
    schema_error, e.g. the registry was down) go back, with their own headers, to the topic
    they were read from (nurture.action, or nurture.action.retry: the retry carries on):
    delivery recorded nothing for them, and a copy it already handled is a no-op by action_id.
    Other action letters are refused (delivery recorded them final), and so are truncated ones
    (the worker kept only part of a too-large record).
    """
    letters = _letters(ctx, topic, error, since)
    if dry_run:
        todo = [x for x in letters if dead_letters.redrivable(kafka_settings(ctx), x)]
        console.print(f"would redrive up to {len(todo)} of {len(letters)} dead letter(s)")
        return
    try:
        report = dead_letters.redrive(kafka_settings(ctx), letters)
    except NurtureError as exc:
        raise fail(exc) from exc
    for letter in report.redriven:
        console.print(f"redriven {letter.letter_id} -> {letter.origin_topic}")
    for letter in report.refused:
        why = dead_letters.refusal(kafka_settings(ctx), letter)
        console.print(f"not redriven {letter.letter_id}: {why}")
    console.print(
        f"{len(report.redriven)} redriven, {report.already} already redriven before, "
        f"{report.not_redrivable} not redrivable (see above), "
        f"{report.truncated} truncated (only part of a too-large record was kept: redrive the "
        "original from its origin offset)"
    )


def _summary(letter: dead_letters.DeadLetter) -> dict[str, object]:
    return {
        "id": letter.letter_id,
        "dead_lettered_at": format_time(letter.timestamp_ms),
        "origin_topic": letter.origin_topic,
        "origin_partition": letter.origin_partition,
        "origin_offset": letter.origin_offset,
        "error_class": letter.error_class,
        "error_message": letter.error_message,
        "reason": letter.reason,
        "redriven": letter.redriven,
    }
