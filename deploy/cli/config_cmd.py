"""`nurture config`: the effective settings of every process, a check of all of them at once, and
the configuration reference (docs/configuration.md) generated from the settings models."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from deploy.cli.context import EXIT_USAGE, err_console, fail

if TYPE_CHECKING:
    from deploy.cli.config_report import Loaded, Setting

#: The command's name (the root callback leaves the Kafka settings to it).
NAME = "config"
#: Where the root callback keeps the global flags' Kafka settings (in ``ctx.meta``).
KAFKA_OVERRIDES = "nurture.kafka_overrides"
#: How an unset setting is shown.
UNSET = "(unset)"


def config(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Validate every setting: one line per invalid one and exit 2, else exit 0.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    docs: Annotated[
        bool,
        typer.Option(
            "--docs",
            help="Print docs/configuration.md as generated from the settings models "
            "(the environment does not change it).",
        ),
    ] = False,
) -> None:
    """The effective NURTURE_* settings of every process and where each came from, secrets
    masked. Invalid settings are reported instead, one line each naming the variable (exit 2).
    Every variable with its type, default and readers: docs/configuration.md."""
    if docs:
        if check or as_json:
            raise fail("--docs prints the reference only: leave out --check and --json", EXIT_USAGE)
        from deploy.cli.config_docs import render  # noqa: PLC0415 - keeps `--help` fast

        typer.echo(render(), nl=False)
        return
    from deploy.cli import config_report  # noqa: PLC0415 - imports every settings model

    loaded = config_report.load_all(ctx.meta.get(KAFKA_OVERRIDES, {}))
    problems = config_report.problems(loaded)
    retention = config_report.retention_settings()
    if as_json:
        typer.echo(json.dumps(_json(loaded, retention, problems, check=check), indent=2))
    elif problems:
        for line in problems:
            err_console.print(
                f"[bold red]error:[/] {escape(line)}", highlight=False, markup=True, soft_wrap=True
            )
    elif check:
        count = sum(len(model.settings) for model in loaded) + len(retention)
        typer.echo(f"ok: all {count} settings are valid")
    else:
        for line in _text(loaded, retention):
            typer.echo(line)
    if problems:
        raise typer.Exit(EXIT_USAGE)


def _text(loaded: Sequence[Loaded], retention: Sequence[Setting]) -> Iterator[str]:
    """Per model a heading naming its readers, then ``VARIABLE  value  (source)`` lines."""
    from deploy.cli.config_docs import readers_text  # noqa: PLC0415
    from deploy.cli.settings_registry import RETENTION_READERS  # noqa: PLC0415

    sections = [
        (f"{model.entry.title} ({model.entry.model.__name__})", model.entry.readers, model.settings)
        for model in loaded
    ]
    sections.append(("Topic retention in days", RETENTION_READERS, tuple(retention)))
    width = max(len(setting.variable) for _, _, settings in sections for setting in settings)
    for number, (title, readers, settings) in enumerate(sections):
        if number:
            yield ""
        yield f"# {title}: read by {readers_text(readers).replace('`', '')}"
        for setting in settings:
            value = UNSET if setting.value is None else setting.value or '""'
            source = "" if setting.source == "default" else f"  ({setting.source})"
            yield f"{setting.variable:<{width}}  {value}{source}"


def _json(
    loaded: Sequence[Loaded], retention: Sequence[Setting], problems: list[str], *, check: bool
) -> dict[str, object]:
    """``{"valid", "problems"}``, and without ``check`` the models with their settings."""
    document: dict[str, object] = {"valid": not problems, "problems": problems}
    if check:
        return document
    document["models"] = [
        {
            "model": model.entry.model.__name__,
            "title": model.entry.title,
            "read_by": list(model.entry.readers),
            "settings": [asdict(setting) for setting in model.settings],
        }
        for model in loaded
    ]
    document["retention_days"] = [asdict(setting) for setting in retention]
    return document
