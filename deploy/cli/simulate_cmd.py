"""`nurture simulate`: a synthetic, seeded population and its journeys, to Kafka or to a file."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

import typer
from pydantic import SecretStr
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from deploy.cli.context import console, err_console, fail, kafka_settings
from producers.producer import NurtureProducer
from producers.simulate import SimRecord, generate
from producers.simulate.output import Pacer, SimCounts, publish, write_jsonl
from producers.simulate.run_ids import new_run_id
from producers.simulate.via_gateway import (
    GatewayCounts,
    GatewaySender,
    SourceKeys,
    batch_size_for,
    send_via_gateway,
)
from schemas.errors import ConfigError, NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings

#: Mean journey length when --events does not ask for more.
EVENTS_PER_CANDIDATE = 12.0
#: Environment variable holding the API key for --via gateway (instead of --api-key).
API_KEY_ENV = "NURTURE_SIMULATE_API_KEY"


def simulate(  # noqa: PLR0917 - typer takes each option as a parameter
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="Seed: same seed and options, same records.")] = 42,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Give the seed's records this run's own ids (events, candidates, actions, "
            "applications, alerts); the same run id repeats the run.",
        ),
    ] = None,
    fresh_ids: Annotated[
        bool,
        typer.Option(
            "--fresh-ids",
            help="A new random --run-id (printed): the seed's content as new events, which a "
            "pipeline that has seen this seed takes again instead of dropping as duplicates.",
        ),
    ] = False,
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
    via: Annotated[
        Literal["sdk", "gateway"],
        typer.Option("--via", help="Send through the SDK (Kafka) or the HTTP gateway."),
    ] = "sdk",
    gateway_url: Annotated[
        str, typer.Option("--gateway-url", help="The gateway's base URL (--via gateway).")
    ] = "http://127.0.0.1:8080",
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar=API_KEY_ENV,
            show_envvar=True,
            help="Gateway key for sources without one in --api-keys-file; their records are "
            "sent without source, so the gateway stamps the key's own source.",
        ),
    ] = None,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(
            "--api-keys-file",
            help="'source=KEY' lines (as `nurture up` writes): each record goes with the key "
            "of its source (career-site, esp, events-platform, ats, crm).",
        ),
    ] = None,
) -> None:
    """Generate candidates (profile first) and their journeys: page views, e-mail opens and
    clicks, career events, applications, unsubscribes, with mixed consent states and time zones.

    Output goes to Kafka through the SDK, through the HTTP gateway with --via gateway (events
    POSTed in batches of up to 100, profiles PUT; 429/503 retried after Retry-After), or with
    --output to a JSON-lines file that `nurture publish` can send later. With the same --seed,
    --end and sizes the file is byte-identical (pass --end to reproduce a run on another day).
    Records of one candidate are in time order; candidates interleave.

    The ids come from the seed too, so a pipeline that has this seed's events already (the
    gateway de-duplicates for 24 h) drops a second run as duplicates: --fresh-ids (what
    `nurture up --demo` does) or --run-id sends the same content under ids of its own.
    """
    if rate is not None and as_fast_as_possible:
        raise fail("choose either --rate or --as-fast-as-possible", code=2)
    if via == "gateway" and output is not None:
        raise fail("choose either --via gateway or --output", code=2)
    scope = _run_scope(run_id, fresh_ids=fresh_ids, to_stdout=output == "-")
    records = generate(
        seed,
        candidates,
        events=events,
        days=days,
        end=(end or _today()).replace(tzinfo=UTC),
        events_per_candidate=events_per_candidate(events, candidates),
        run_id=scope,
    )
    pacer = Pacer(rate, duration) if rate is not None or duration is not None else None
    started = time.monotonic()
    try:
        if via == "gateway":
            target = _GatewayTarget(gateway_url, api_key, api_keys_file)
            _send_via_gateway(records, pacer, rate, target)
            return
        counts = _run(ctx, records, pacer, output, events)
    except NurtureError as exc:  # an OSError (an --output path) is reported by the root group
        raise fail(exc) from exc
    elapsed = time.monotonic() - started
    to_stdout = output == "-"
    where = "stdout" if to_stdout else output or kafka_settings(ctx).bootstrap_servers
    _report_done(counts, where, elapsed, to_stdout=to_stdout)


def _run_scope(run_id: str | None, *, fresh_ids: bool, to_stdout: bool) -> str | None:
    """The run id the records get (--run-id, a fresh one, or None: the seed's own ids), printed
    when there is one (to stderr when the records go to stdout)."""
    if fresh_ids and run_id is not None:
        raise fail("choose either --run-id or --fresh-ids", code=2)
    if run_id == "":
        raise fail("--run-id must not be empty", code=2)
    scope = new_run_id() if fresh_ids else run_id
    if scope is not None:
        (err_console if to_stdout else console).print(
            f"run id {scope}: the seed's content under ids of this run (--run-id {scope} "
            f"repeats it)",
            markup=False,
            soft_wrap=True,
        )
    return scope


def events_per_candidate(events: int | None, candidates: int) -> float:
    """Mean journey length: :data:`EVENTS_PER_CANDIDATE`, or long enough journeys that
    ``events`` events are reached (pure)."""
    if events is None:
        return EVENTS_PER_CANDIDATE
    return max(EVENTS_PER_CANDIDATE, math.ceil(1.5 * events / candidates))


@dataclass(frozen=True)
class _GatewayTarget:
    """Where --via gateway sends: the gateway's base URL, and the keys to send with."""

    url: str
    api_key: str | None
    api_keys_file: Path | None


def _send_via_gateway(
    records: Iterator[SimRecord],
    pacer: Pacer | None,
    rate: float | None,
    target: _GatewayTarget,
) -> None:
    """Send the records through the gateway and report (exit 1 when any was refused or
    failed)."""
    started = time.monotonic()
    keys = _source_keys(target.api_key, target.api_keys_file)
    sender = GatewaySender(target.url, keys, batch_size=batch_size_for(rate))
    with sender:
        sent = send_via_gateway(records, sender, pacer)
    _report_gateway(sent, target.url, time.monotonic() - started)


def _report_done(counts: SimCounts, where: str, elapsed: float, *, to_stdout: bool) -> None:
    """What went where, how fast (to stderr when the records went to stdout)."""
    rate_done = counts.events / elapsed if elapsed > 0 else 0.0
    (err_console if to_stdout else console).print(
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
            registry = SchemaRegistrySettings()  # invalid: exit 2, as any setting
            producer = stack.enter_context(
                NurtureProducer(kafka_settings(ctx), schema_registry=registry)
            )
            return publish(records, producer, pacer, callback)
        out: BinaryIO = (
            sys.stdout.buffer if output == "-" else stack.enter_context(Path(output).open("wb"))
        )
        return write_jsonl(records, out, pacer, callback)


def _source_keys(api_key: str | None, keys_file: Path | None) -> SourceKeys:
    """The gateway keys from --api-keys-file and --api-key (or its environment variable)."""
    from producers.gateway.settings import parse_api_keys  # noqa: PLC0415 - gateway only

    by_source: dict[str, SecretStr] = {}
    if keys_file is not None:
        try:
            text = keys_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read API keys file {keys_file}: {exc}") from exc
        for key in parse_api_keys(text, where=str(keys_file)):
            by_source.setdefault(key.source, key.secret)
    fallback = SecretStr(api_key) if api_key else None
    if not by_source and fallback is None:
        raise ConfigError(
            f"--via gateway needs --api-keys-file or --api-key (or {API_KEY_ENV} in the "
            f"environment)"
        )
    return SourceKeys(by_source, fallback)


def _report_gateway(counts: GatewayCounts, url: str, elapsed_s: float) -> None:
    rate = counts.events / elapsed_s if elapsed_s > 0 else 0.0
    console.print(
        f"{counts.profiles} profiles and {counts.events} events to {url} in {elapsed_s:.1f} s "
        f"({rate:,.0f} events/s): {counts.accepted} accepted, {counts.duplicates} duplicates, "
        f"{counts.rejected} rejected, {counts.failed} failed",
        markup=False,
        soft_wrap=True,
    )
    for line in counts.rejections[:10]:
        console.print(f"  rejected {line}", markup=False, soft_wrap=True)
    if counts.events and counts.duplicates == counts.events:
        console.print(
            "every event was a duplicate: the gateway has had these ids within its "
            "de-duplication window; --fresh-ids sends the same content under new ids",
            markup=False,
            soft_wrap=True,
        )
    if counts.rejected or counts.failed:
        raise typer.Exit(1)


def _today() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day)
