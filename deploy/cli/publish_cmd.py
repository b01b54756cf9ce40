"""`nurture publish FILE|-`: publish a JSON-lines file of events and profiles to Kafka."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from deploy.cli.context import console, fail, kafka_settings
from producers.producer import NurtureProducer
from producers.publish import LineRejection, PublishSummary, publish_lines
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings

#: Exit status when some lines were rejected (everything valid was still published).
EXIT_REJECTED = 3
_SHOWN_REJECTIONS = 10


def publish(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="JSON-lines file, or - for standard input.")],
    profiles: Annotated[
        bool, typer.Option("--profiles", help="Bare lines are profiles (default: events).")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where rejected lines go (default <FILE>.rejects.jsonl)."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for the final acknowledgements.")
    ] = None,
) -> None:
    """Publish JSON-lines records; print published, rejected and duplicate counts.

    Each line is a bare record (an activity event, or a profile with --profiles) or an envelope
    {"subject": "activity_event"|"candidate_profile"|"erasure_request", "record": {...}} as
    written by `nurture simulate --output`. Rejected lines (with line number and reason) go to
    the rejects file, which is written only when a line was rejected. A record whose event_id
    was already seen in this run is counted as a duplicate and not sent again.

    Exit status: 0 when every line was published, 3 when some lines were rejected (all valid
    ones were still published), 1 when Kafka did not acknowledge them (the summary still says
    how many were acknowledged and how many failed; reading stops at the first send that fails).
    """
    source = None if file == "-" else Path(file)
    if source is not None and not source.is_file():
        raise fail(f"{file}: no such file", code=2)
    rejects_path = rejects or Path(f"{source or 'stdin'}.rejects.jsonl")
    started = time.monotonic()
    summary: PublishSummary | None = None
    try:
        with ExitStack() as stack:
            stream: BinaryIO = (
                sys.stdin.buffer if source is None else stack.enter_context(source.open("rb"))
            )
            writer = _RejectsWriter(rejects_path, stack)
            registry = SchemaRegistrySettings()  # invalid: exit 2, as any setting
            producer = stack.enter_context(
                NurtureProducer(kafka_settings(ctx), schema_registry=registry)
            )
            progress = _progress(stack)
            task = progress.add_task("publishing", total=source.stat().st_size if source else None)
            summary = publish_lines(
                _lines(stream),
                producer,
                default_subject="candidate_profile" if profiles else "activity_event",
                on_reject=writer.write,
                on_line=None if progress.disable else _ProgressBytes(progress, task),
                timeout_s=timeout,
            )
    except NurtureError as exc:
        if summary is None:  # nothing was sent (no broker, bad settings)
            raise fail(exc) from exc
        summary.error = summary.error or exc  # closing the producer failed records too
    _print_summary(summary, rejects_path, time.monotonic() - started)
    if summary.error is not None:
        raise fail(summary.error)
    if not summary.ok:
        raise typer.Exit(EXIT_REJECTED)


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    yield from stream


class _RejectsWriter:
    """Opens (truncating) the rejects file on the first rejection only."""

    def __init__(self, path: Path, stack: ExitStack) -> None:
        self.path = path
        self._stack = stack
        self._out: BinaryIO | None = None

    def write(self, rejection: LineRejection) -> None:
        if self._out is None:
            self._out = self._stack.enter_context(self.path.open("wb"))
        self._out.write(rejection.to_json())


class _ProgressBytes:
    """Advances the progress bar by bytes read, every 512 lines (rich is slow per call)."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task
        self._lines = self._bytes = 0

    def __call__(self, size: int) -> None:
        self._lines += 1
        self._bytes += size
        if self._lines % 512 == 0:
            self._progress.update(self._task, completed=self._bytes)


def _progress(stack: ExitStack) -> Progress:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )
    return stack.enter_context(progress)


def _print_summary(summary: PublishSummary, rejects_path: Path, elapsed_s: float) -> None:
    rate = summary.acked / elapsed_s if elapsed_s > 0 else 0.0
    kinds = ", ".join(f"{n} {s}" for s, n in sorted(summary.by_subject.items())) or "nothing"
    console.print(
        f"published:  {summary.acked} acknowledged by Kafka, of {summary.sent} sent ({kinds}) "
        f"in {elapsed_s:.1f} s, {rate:,.0f}/s",
        soft_wrap=True,
    )
    console.print(f"failed:     {summary.failed} (sent, not acknowledged: publish them again)")
    console.print(f"duplicates: {summary.duplicates} (same event_id earlier in this run, skipped)")
    console.print(f"rejected:   {len(summary.rejected)}")
    for rejection in summary.rejected[:_SHOWN_REJECTIONS]:
        console.print(
            f"  line {rejection.line}: {rejection.field}: {rejection.reason}", markup=False
        )
    if len(summary.rejected) > _SHOWN_REJECTIONS:
        console.print(f"  ... and {len(summary.rejected) - _SHOWN_REJECTIONS} more")
    if summary.rejected:
        console.print(f"rejected lines written to {rejects_path}", markup=False, soft_wrap=True)
