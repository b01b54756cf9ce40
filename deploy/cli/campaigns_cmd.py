"""`nurture campaigns validate|simulate`: check campaign files; dry-run the engine over events.

``simulate --events FILE`` runs the campaign engine and the scoring model over a JSON-lines file
of the simulator (`nurture simulate -o FILE`) and prints, per candidate, campaign and step, what
would be emitted, held for quiet hours or suppressed (and why). ``simulate --candidate ID``
without ``--events`` reads that candidate's profile and activity records from Kafka instead
(only the partition its id hashes to, ``streams/candidate_reader.py``) and prints the same
report. Nothing is sent to Kafka either way.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from deploy.cli.context import EXIT_USAGE, console, fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.codec import wire_codec
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.timestamps import from_micros
from streams.campaigns import Engine, StepOutcome, load_campaigns, load_catalog, validate_path
from streams.campaigns.durations import parse_duration
from streams.campaigns.history import CandidateHistory
from streams.campaigns.simulation import SimulationResult, read_records
from streams.campaigns.simulation import simulate as run_engine
from streams.candidate_reader import read_candidate
from streams.scoring import load_model

app = typer.Typer(
    help="Nurture campaigns: validate definitions, dry-run them.", no_args_is_help=True
)

DefinitionsOption = Annotated[
    Path | None,
    typer.Option("--definitions", help="Campaign folder or file (default: the shipped ones)."),
]
CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="Content catalog folder or file (default: the shipped one)."),
]


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A campaign file or a definitions folder.")],
    catalog: CatalogOption = None,
) -> None:
    """Check campaign definitions (and a content catalog); exit 1 listing every problem, 2
    when PATH does not exist."""
    if not path.exists():
        raise fail(f"{path}: no such file or folder", EXIT_USAGE)
    problems = [str(problem) for problem in validate_path(path)]
    if catalog is not None:
        try:
            load_catalog(catalog)
        except NurtureError as exc:
            problems.append(str(exc))
    if problems:
        for problem in problems:
            console.print(f"[red]invalid[/] {problem}", highlight=False, markup=True)
        raise typer.Exit(1)
    campaigns = load_campaigns(path)
    names = ", ".join(f"{c.id} v{c.version}" for c in campaigns.campaigns) or "policy only"
    console.print(f"ok: {len(campaigns.campaigns)} campaign(s): {names}", highlight=False)


@app.command()
def simulate(  # noqa: PLR0917 - typer takes each option as a parameter
    ctx: typer.Context,
    events: Annotated[
        Path | None,
        typer.Option("--events", help="JSON-lines file of profiles and events (simulator format)."),
    ] = None,
    candidate: Annotated[
        str | None,
        typer.Option(
            "--candidate",
            help="Show only this candidate; without --events, read its records from Kafka.",
        ),
    ] = None,
    definitions: DefinitionsOption = None,
    catalog: CatalogOption = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Scoring model file (default: shipped).")
    ] = None,
    run_on: Annotated[
        str, typer.Option("--run-on", help="Keep firing timers this long after the last event.")
    ] = "0d",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per outcome.")] = False,
) -> None:
    """What the campaigns would do with a file of events, or with a live candidate's records
    on Kafka (--candidate without --events): emitted / held / suppressed(reason)."""
    try:
        run_on_us = parse_duration(run_on)
    except ValueError as exc:
        raise fail(f"--run-on: {exc}", EXIT_USAGE) from exc
    try:
        scoring = load_model(model)
        engine = Engine(
            load_campaigns(definitions, tiers=[t.name for t in scoring.tiers]),
            load_catalog(catalog),
        )
        records, history = _records(ctx, events, candidate)
        result = run_engine(engine, scoring, records, run_on_us=run_on_us)
    except NurtureError as exc:
        raise fail(exc) from exc
    outcomes = [o for o in result.outcomes if candidate is None or o.candidate_id == candidate]
    if as_json:
        for outcome in outcomes:
            typer.echo(json.dumps(_as_dict(outcome), sort_keys=True))
        return
    if history is not None:
        console.print(
            f"read from Kafka ({_partitions(history)}): {history.count('candidate_profile')} "
            f"profile(s), {history.count('activity_event')} event(s), "
            f"{history.count('erasure_request')} erasure request(s), "
            f"{history.skipped} undecodable record(s) skipped; nothing is sent",
            highlight=False,
        )
    _print(outcomes, result, candidate)


def _records(
    ctx: typer.Context, events: Path | None, candidate: str | None
) -> tuple[list[tuple[str, dict[str, Any]]], CandidateHistory | None]:
    """The records to simulate: the file's, or the live candidate's read from Kafka (with
    what was read). Raises :class:`NurtureError` when the file or Kafka cannot be read."""
    if events is not None:
        return read_records(events), None
    if candidate is None:
        raise fail(
            "pass --events FILE (e.g. from `nurture simulate -o FILE`) or --candidate ID "
            "(reads that candidate's records from Kafka)",
            EXIT_USAGE,
        )
    kafka = kafka_settings(ctx)
    # Both framings in Schema Registry mode (NURTURE_SCHEMA_REGISTRY_URL), single-object without
    wire = wire_codec(SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix)
    history = read_candidate(kafka, candidate, codec=wire)
    if not history.records:
        raise fail(
            f"no profile or activity records of candidate {candidate!r} on Kafka "
            f"(partitions read: {_partitions(history)})"
        )
    return history.records, history


def _partitions(history: CandidateHistory) -> str:
    return ", ".join(f"{topic}[{p}]" for topic, p in sorted(history.partitions.items()))


def _as_dict(outcome: StepOutcome) -> dict[str, object]:
    return {
        "candidate_id": outcome.candidate_id,
        "campaign_id": outcome.campaign_id,
        "step_id": outcome.step_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "action_id": outcome.action_id,
        "decided_at": _when(outcome.decided_us),
        "release_at": _when(outcome.release_us),
    }


def _when(micros: int | None) -> str | None:
    return None if micros is None else from_micros(micros).strftime("%Y-%m-%d %H:%M")


def _print(outcomes: list[StepOutcome], result: SimulationResult, candidate: str | None) -> None:
    table = Table("candidate", "campaign", "step", "decided (UTC)", "outcome", title="decisions")
    for o in outcomes:
        if o.status == "suppressed":
            shown = f"[yellow]suppressed({o.reason})[/]"
        elif o.status == "held":
            shown = f"[cyan]held until {_when(o.release_us)} UTC[/]"
        else:
            shown = "[green]emitted[/]"
        table.add_row(o.candidate_id, o.campaign_id, o.step_id, _when(o.decided_us), shown)
    console.print(table)
    tally = Counter(o.status if o.reason is None else f"suppressed({o.reason})" for o in outcomes)
    summary = ", ".join(f"{name} {count}" for name, count in sorted(tally.items())) or "nothing"
    who = f"candidate {candidate}" if candidate else f"{result.profiles} profiles"
    console.print(
        f"{who}, {result.events} events ({result.skipped_events} duplicate or too late), "
        f"timers run to {_when(result.end_us)} UTC: {summary}",
        highlight=False,
    )
