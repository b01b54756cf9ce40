"""`nurture replay rebuild|shadow|diff|drop`: rebuild and rehearse (docs/replay.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from deploy.cli.context import console, err_console, fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings
from streams.replay.counts import WRONG_PARTITION_ADVICE, ReplayCounts
from streams.replay.runner import ConfigFiles, PartitionJob
from streams.replay.times import format_time, parse_time
from streams.worker.settings import WorkerSettings

app = typer.Typer(
    help="Rebuild the worker's state from the topics, or rehearse a new config in a sandbox.",
    no_args_is_help=True,
)

#: Default number of replay processes: one per CPU (partitions are shared among them).
CPUS = os.cpu_count() or 1

ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="Scoring model file (env NURTURE_WORKER_MODEL_PATH)."),
]
CampaignsOption = Annotated[
    Path | None,
    typer.Option(
        "--campaigns", help="Campaigns folder or file (env NURTURE_WORKER_CAMPAIGNS_PATH)."
    ),
]
CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="Content catalog (env NURTURE_WORKER_CATALOG_PATH)."),
]
ProcessesOption = Annotated[
    int,
    typer.Option("--processes", min=1, help="Replay processes (default: CPU count)."),
]
SummaryDirOption = Annotated[
    Path | None,
    typer.Option("--summary-dir", help="Where shadow summaries are kept (user data dir)."),
]


def _time(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except NurtureError as exc:
        raise fail(f"{option}: {exc}", code=2) from exc


@contextmanager
def _progress(jobs: list[PartitionJob], what: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (records, rate, elapsed, ETA) on stderr; yields its advance."""
    total = sum(job.size for job in jobs)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(what, total=total, rate="")

        def advance(count: int) -> None:
            bar.update(task, advance=count)
            speed = bar.tasks[task].speed
            if speed:
                bar.update(task, rate=f"{speed:,.0f} rec/s")

        yield advance
        bar.update(task, completed=total)


@app.command()
def rebuild(
    ctx: typer.Context,
    *,
    from_time: Annotated[
        str | None,
        typer.Option("--from", help="Reprocess activity from this time (ISO 8601, epoch ms)."),
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Reprocess all retained activity.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    processes: ProcessesOption = CPUS,
    model: ModelOption = None,
    campaigns: CampaignsOption = None,
    catalog: CatalogOption = None,
    app_id: Annotated[
        str | None, typer.Option("--app-id", help="Worker app id (env NURTURE_WORKER_APP_ID).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Worker's local stores (env NURTURE_WORKER_DATA_DIR)."),
    ] = None,
) -> None:
    """Reset the worker's state and offsets, and reprocess the topics (the worker must be stopped).

    Activity from --from (by record timestamp) or the beginning, on an empty state; profiles
    always from the beginning. Rows go to a re-created changelog, scores to candidate.engagement,
    actions to nurture.action marked replay (delivery never sends them). Exit 1 while a worker
    of the app id runs, 2 for bad options.
    """
    if (from_time is None) == (not from_beginning):
        raise fail("give exactly one of --from TIMESTAMP and --from-beginning", code=2)
    from_ms = _time(from_time, "--from")
    kafka = kafka_settings(ctx)
    worker = WorkerSettings.given(
        model_path=model,
        app_id=app_id,
        campaigns={"path": campaigns, "catalog_path": catalog},
        store={"data_dir": data_dir},
    )
    schema_registry = SchemaRegistrySettings()
    from streams.replay.rebuild import changelog_topic, plan_rebuild  # noqa: PLC0415
    from streams.replay.rebuild import rebuild as run_rebuild  # noqa: PLC0415

    try:
        jobs = plan_rebuild(kafka, worker, from_ms)
        group = worker.faust_app_id(kafka.topic_prefix)
        start = "the beginning" if from_ms is None else format_time(from_ms)
        console.print(
            f"rebuild of [bold]{group}[/]: {sum(j.activity.size for j in jobs):,} activity and "
            f"{sum(j.profile.size for j in jobs):,} profile records (activity from {start}); "
            f"deletes {changelog_topic(group)} and {worker.store.data_dir / group}"
        )
        if not yes and not typer.confirm("Go ahead?"):
            raise typer.Exit(1)
        with _progress(jobs, "rebuild") as advance:
            report = run_rebuild(
                kafka,
                worker,
                jobs,
                processes=processes,
                progress=advance,
                schema_registry=schema_registry,
            )
    except NurtureError as exc:
        raise fail(exc) from exc
    counts = report.counts
    console.print(
        f"rebuilt {report.group} in {report.seconds:.1f}s ({report.events_per_s:,.0f} records/s): "
        f"{counts.scored:,} scored, {counts.duplicates:,} duplicates, {counts.too_late:,} too "
        f"late, {counts.dead_lettered:,} not usable (already dead-lettered), "
        f"{sum(counts.emitted.values()):,} replay actions; offsets committed, start the workers"
    )
    _warn_wrong_partition(counts)


@app.command()
def shadow(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Option("--name", help="Sandbox name (a-z, 0-9, -).")] = "rehearsal",
    from_time: Annotated[
        str | None, typer.Option("--from", help="Window start (default: the beginning).")
    ] = None,
    to_time: Annotated[str | None, typer.Option("--to", help="Window end (default: now).")] = None,
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            help="New model (.yaml with a model) or campaigns file/folder; repeatable. "
            "Use --model/--campaigns/--catalog to be explicit.",
        ),
    ] = None,
    model: ModelOption = None,
    campaigns: CampaignsOption = None,
    catalog: CatalogOption = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Empty an existing sandbox of this name first.")
    ] = False,
    processes: ProcessesOption = CPUS,
    summary_dir: SummaryDirOption = None,
) -> None:
    """Replay a time range with a new config into a sandbox (own topics, never delivered).

    Outputs: candidate.engagement.shadow-NAME and nurture.action.shadow-NAME; records before
    --from only warm the state up. Then `nurture replay diff --name NAME`.
    """
    from streams.replay import shadow as sandbox  # noqa: PLC0415

    kafka = kafka_settings(ctx)
    from_ms = _time(from_time, "--from")
    to_ms = _time(to_time or "now", "--to")
    live = WorkerSettings()
    schema_registry = SchemaRegistrySettings()
    paths = _config_paths(config or [], model, campaigns, catalog)
    try:
        sandbox.check_name(name)
        jobs = sandbox.plan_shadow(kafka, from_ms, to_ms)
        outputs = sandbox.prepare_sandbox(kafka, name, replace=replace)
        with _progress(jobs, f"shadow {name}") as advance:
            summary = sandbox.run_shadow(
                kafka,
                name,
                jobs,
                outputs,
                live,
                from_ms=from_ms,
                to_ms=to_ms,
                files=ConfigFiles(
                    paths.get("model", live.model_path),
                    paths.get("campaigns", live.campaigns.path),
                    paths.get("catalog", live.campaigns.catalog_path),
                ),
                summary_dir=summary_dir or sandbox.SUMMARY_DIR,
                processes=processes,
                progress=advance,
                schema_registry=schema_registry,
            )
    except NurtureError as exc:
        raise fail(exc) from exc
    counts = summary.counts
    console.print(
        f"shadow {name}: {counts.records:,} records in {summary.seconds:.1f}s; "
        f"{sum(counts.emitted.values()):,} actions, {sum(counts.suppressed.values()):,} "
        f"suppressed in the window -> {outputs.engagement}, {outputs.action}"
    )
    _warn_wrong_partition(counts)


def _warn_wrong_partition(counts: ReplayCounts) -> None:
    """Say loudly when a replay left out records on the wrong partition, and what to do."""
    if counts.wrong_partition:
        console.print(
            f"[bold red]warning[/]: {counts.wrong_partition:,} {WRONG_PARTITION_ADVICE}",
            highlight=False,
        )


def _config_paths(
    configs: list[Path], model: Path | None, campaigns: Path | None, catalog: Path | None
) -> dict[str, Path]:
    """--config files sorted into model / campaigns by content (a model has ``tiers``)."""
    import yaml  # noqa: PLC0415

    paths: dict[str, Path] = {}
    for path in configs:
        if path.is_dir():
            paths["campaigns"] = path
            continue
        try:
            loaded = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise fail(f"--config {path}: {exc}", code=2) from exc
        kind = "model" if isinstance(loaded, dict) and "tiers" in loaded else "campaigns"
        paths[kind] = path
    for kind, value in (("model", model), ("campaigns", campaigns), ("catalog", catalog)):
        if value is not None:
            paths[kind] = value
    return paths


@app.command()
def diff(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Option("--name", help="The shadow run.")] = "rehearsal",
    top: Annotated[int, typer.Option("--top", min=1, help="Score changes to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    processes: ProcessesOption = CPUS,
    summary_dir: SummaryDirOption = None,
) -> None:
    """Compare a shadow run with live: tiers, scores, actions, suppressions (exit 3 if any differ).

    The live config (for the recomputed live suppressions) comes from NURTURE_WORKER_* settings.
    """
    import json  # noqa: PLC0415

    from streams.replay import shadow as sandbox  # noqa: PLC0415
    from streams.replay.diff import diff_shadow  # noqa: PLC0415

    kafka = kafka_settings(ctx)
    live = WorkerSettings()
    schema_registry = SchemaRegistrySettings()
    try:
        summary = sandbox.load_summary(summary_dir or sandbox.SUMMARY_DIR, name)
        result = diff_shadow(
            kafka, summary, live, processes=processes, top=top, schema_registry=schema_registry
        )
    except NurtureError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "name": name,
                    "candidates": result.candidates,
                    "empty": result.empty,
                    "tier_changes": [[a, b, n] for (a, b), n in result.tier_changes.items()],
                    "score_changes": result.score_changes,
                    "actions": [[c, ch, lv, sh] for (c, ch), (lv, sh) in result.actions.items()],
                    "only_live": result.only_live,
                    "only_shadow": result.only_shadow,
                    "suppressions": [
                        [c, r, lv, sh] for (c, r), (lv, sh) in result.suppressions.items()
                    ],
                },
                indent=2,
            )
        )
    else:
        _print_diff(name, result)
    if not result.empty:
        raise typer.Exit(3)


def _print_diff(name: str, result: Any) -> None:
    console.print(f"[bold]shadow {name} vs live[/] ({result.candidates:,} candidates)")
    tiers = Table("live tier", "shadow tier", "candidates", title="tier changes")
    for (before, after), count in sorted(result.tier_changes.items(), key=lambda i: -i[1]):
        tiers.add_row(before or "(none)", after, f"{count:,}")
    console.print(tiers if result.tier_changes else "tier changes: none")
    scores = Table(
        "candidate", "live score", "shadow score", "change", title="largest score changes"
    )
    for cid, before, after in result.score_changes:
        change = after - (before or 0.0)
        scores.add_row(
            cid, "-" if before is None else f"{before:.2f}", f"{after:.2f}", f"{change:+.2f}"
        )
    console.print(scores if result.score_changes else "score changes: none")
    actions = Table("campaign", "channel", "live", "shadow", title="actions in the window")
    for (campaign, channel), (live, shadow) in result.actions.items():
        actions.add_row(campaign, channel, f"{live:,}", f"{shadow:,}")
    console.print(actions)
    console.print(
        f"action ids only live: {result.only_live:,}; only shadow: {result.only_shadow:,}"
    )
    suppressed = Table("campaign", "reason", "live (recomputed)", "shadow", title="suppressions")
    for (campaign, reason), (live, shadow) in result.suppressions.items():
        suppressed.add_row(campaign, reason, f"{live:,}", f"{shadow:,}")
    console.print(suppressed)
    console.print("[green]no differences[/]" if result.empty else "[yellow]differences found[/]")


@app.command()
def drop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The sandbox to delete.")],
    summary_dir: SummaryDirOption = None,
) -> None:
    """Delete a sandbox's topics and summary."""
    from streams.replay import shadow as sandbox  # noqa: PLC0415

    try:
        sandbox.check_name(name)
        deleted = sandbox.drop_sandbox(
            kafka_settings(ctx), name, summary_dir or sandbox.SUMMARY_DIR
        )
    except NurtureError as exc:
        raise fail(exc) from exc
    for topic in deleted:
        console.print(f"deleted {topic}")
