"""`nurture simulate`: a synthetic, seeded population and its journeys, to Kafka or to a file."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from deploy.cli.context import console, err_console, fail, kafka_settings
from producers.producer import NurtureProducer
from producers.simulate import SimRecord, generate
from producers.simulate.output import Pacer, SimCounts, publish, write_jsonl
from schemas.errors import NurtureError

#: Mean journey length when --events does not ask for more.
EVENTS_PER_CANDIDATE = 12.0


def simulate(  # noqa: PLR0917 - typer takes each option as a parameter
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="Seed: same seed and options, same records.")] = 42,
    candidates: Annotated[int, typer.Option(min=1, help="Population size.")] = 1000,
    events: Annotated[int | None, typer.Option(min=1, help="Stop after N activity events.")] = None,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds of wall time.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="Pace at R activity events per second.")
    ] = None,
    as_fast_as_possible: Annotated[
        bool, typer.Option("--as-fast-as-possible", help="No pacing (the default).")
    ] = False,
    days: Annotated[
        float, typer.Option(min=0.001, help="Spread event times over the D days before --end.")
    ] = 30.0,
    end: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="Latest event time, UTC (default: today 00:00 UTC).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write JSON lines to FILE (- for stdout), not Kafka."),
    ] = None,
) -> None:
    """Generate candidates (profile first) and their journeys: page views, e-mail opens and
    clicks, career events, applications, unsubscribes, with mixed consent states and time zones.

    Output goes to Kafka through the SDK, or with --output to a JSON-lines file that
    `nurture publish` can send later. With the same --seed, --end and sizes the file is
    byte-identical (pass --end to reproduce a run on another day). Records of one candidate are
    in time order; candidates interleave.
    """
    if rate is not None and as_fast_as_possible:
        raise fail("choose either --rate or --as-fast-as-possible", code=2)
    end_utc = (end or _today()).replace(tzinfo=UTC)
    per_candidate = EVENTS_PER_CANDIDATE
    if events is not None:  # long enough journeys that N events are reached
        per_candidate = max(per_candidate, math.ceil(1.5 * events / candidates))
    records = generate(
        seed, candidates, events=events, days=days, end=end_utc, events_per_candidate=per_candidate
    )
    pacer = Pacer(rate, duration) if rate is not None or duration is not None else None
    started = time.monotonic()
    try:
        counts = _run(ctx, records, pacer, output, events)
    except (NurtureError, OSError) as exc:
        raise fail(str(exc)) from exc
    elapsed = time.monotonic() - started
    to_stdout = output == "-"
    report = err_console if to_stdout else console
    where = "stdout" if to_stdout else output or kafka_settings(ctx).bootstrap_servers
    rate_done = counts.events / elapsed if elapsed > 0 else 0.0
    report.print(
        f"{counts.profiles} profiles and {counts.events} events to {where} in {elapsed:.1f} s "
        f"({rate_done:,.0f} events/s)",
        markup=False,
        soft_wrap=True,
    )


def _run(
    ctx: typer.Context,
    records: Iterator[SimRecord],
    pacer: Pacer | None,
    output: str | None,
    events: int | None,
) -> SimCounts:
    with ExitStack() as stack:
        progress = stack.enter_context(
            Progress(
                TextColumn("[bold]simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                disable=output == "-" or not console.is_terminal,
                transient=True,
            )
        )
        task = progress.add_task("events", total=events)
        seen = [0]

        def on_record(sim: SimRecord) -> None:
            if sim.subject != "activity_event":
                return
            seen[0] += 1
            if seen[0] % 1024 == 0:  # rich's advance is slow next to generating a record
                progress.update(task, completed=seen[0])

        callback = None if progress.disable else on_record

        if output is None:
            producer = stack.enter_context(NurtureProducer(kafka_settings(ctx)))
            return publish(records, producer, pacer, callback)
        out: BinaryIO = (
            sys.stdout.buffer if output == "-" else stack.enter_context(Path(output).open("wb"))
        )
        return write_jsonl(records, out, pacer, callback)


def _today() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day)
