"""`nurture schemas register`: the catalog's schemas into a schema registry, for CI/CD pipelines
whose producers may not register schemas themselves (docs/integrations.md, "Schema Registry
mode")."""

from __future__ import annotations

from typing import Annotated

import typer

from deploy.cli.context import console, fail, kafka_settings
from schemas.catalog import default_catalog
from schemas.errors import ConfigError
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.register import Step, register_catalog
from schemas.schema_registry.settings import SchemaRegistrySettings

app = typer.Typer(help="The Avro schemas of the contract (schemas/registry).", no_args_is_help=True)


@app.command()
def register(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Confluent-compatible API of the registry (env NURTURE_SCHEMA_REGISTRY_URL).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Change nothing: say what would be set and registered."),
    ] = False,
) -> None:
    """Register every subject's versions from schemas/registry, oldest first, under its registry
    subject (TopicNameStrategy, RecordNameStrategy for candidate.profile; the topic prefix
    applies), with the compatibility level the project declares (transitive). Idempotent: a
    re-run changes nothing and says so. Exit 1 when the registry refuses a version (incompatible:
    the message names the subject) or cannot be reached, 2 when no registry URL is set."""
    settings = SchemaRegistrySettings(**({"url": url} if url is not None else {}))  # type: ignore[arg-type]
    if not settings.enabled:
        raise fail(ConfigError("no schema registry: set NURTURE_SCHEMA_REGISTRY_URL or --url"))
    prefix = kafka_settings(ctx).topic_prefix
    with SchemaRegistryClient(settings) as client:  # its errors: one line, exit 1
        steps = register_catalog(
            client, default_catalog(), topic_prefix=prefix, dry_run=dry_run, on_step=_print
        )
    _summary(steps, client.url, dry_run=dry_run)
    if any(step.outcome == "refused" for step in steps):
        raise typer.Exit(1)


def _print(step: Step) -> None:
    console.print(f"  {step}", highlight=False, soft_wrap=True)


def _summary(steps: list[Step], url: str, *, dry_run: bool) -> None:
    subjects = len({step.registry_subject for step in steps})
    changed = [step for step in steps if step.outcome != "unchanged"]
    if not changed:
        line = f"nothing to change: {subjects} subjects at {url} are up to date"
    else:
        verb = "would change" if dry_run else "changed"
        refused = sum(step.outcome == "refused" for step in steps)
        line = (
            f"{verb} {len(changed) - refused} of {len(steps)} items in {subjects} subjects at {url}"
        )
        if refused:
            line += f"; {refused} versions the registry would refuse (incompatible)"
    console.print(line, highlight=False, soft_wrap=True)
