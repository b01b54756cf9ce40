"""`nurture erase ID`, `nurture erasure verify ID` and `nurture keys rewrap`.

``erase`` publishes the erasure request (the worker deletes the candidate's rows, tombstones its
compacted records and drops later events) and tombstones the candidate's data keys, so every
sealed contact, in Kafka or in any copy, becomes unreadable. ``erasure verify`` scans every
topic and the reachable state and lists what is still readable. ``keys rewrap`` rewraps the
data keys under a new key-encryption key (rotation). See docs/privacy.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from consumers.settings import DeliverySettings
from deploy.cli.context import console, exit_status, fail, kafka_settings
from deploy.erasure.findings import Report
from deploy.erasure.verify import VerifyOptions, verify
from producers.key_rotation import rewrap_keys
from producers.producer import NurtureProducer
from schemas.errors import NurtureError
from schemas.privacy.settings import load_privacy_settings
from schemas.schema_registry.codec import wire_codec
from schemas.schema_registry.settings import SchemaRegistrySettings
from streams.worker.settings import WorkerSettings

app = typer.Typer(help="Check erasures (docs/privacy.md).", no_args_is_help=True)


def erase(
    ctx: typer.Context,
    candidate_id: Annotated[str, typer.Argument(help="The candidate id (the Kafka key).")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, e.g. gdpr_art17 (never personal data).")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="The system that asked for the erasure.")
    ] = "cli",
) -> None:
    """Erase CANDIDATE_ID: publish the erasure request and delete the candidate's data keys."""
    try:
        registry = SchemaRegistrySettings()  # invalid: exit 2, as any setting
        with NurtureProducer(kafka_settings(ctx), schema_registry=registry) as producer:
            receipt = producer.erase(candidate_id, source=source, reason=reason)
    except NurtureError as exc:
        raise fail(
            f"{exc} (nothing or only part was done: run the command again)", exit_status(exc)
        ) from exc
    typer.echo(
        f"erasure request {receipt.request_id} published; "
        f"{receipt.keys_deleted} data key(s) deleted. "
        f"Check with: nurture erasure verify {candidate_id}"
    )


@app.command("verify")
def verify_command(  # noqa: PLR0917 - typer takes each option as a parameter
    ctx: typer.Context,
    candidate_id: Annotated[str, typer.Argument(help="The candidate id (the Kafka key).")],
    worker_url: Annotated[
        str | None,
        typer.Option("--worker-url", help="Also ask this worker (e.g. http://127.0.0.1:6066)."),
    ] = None,
    worker_app_id: Annotated[
        str | None,
        typer.Option(
            "--worker-app-id", help="Names the worker's changelog (NURTURE_WORKER_APP_ID)."
        ),
    ] = None,
    delivery_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--delivery-dir",
            help="Delivery store directory to look into (repeatable; default "
            "NURTURE_DELIVERY_DATA_DIR when it exists).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Longest topic scan, s.")] = 60.0,
) -> None:
    """What is still readable of CANDIDATE_ID: exit 0 when nothing, 1 when something, 2 when a
    check could not be made. Pseudonymous history without PII is listed as information."""
    if delivery_dir is None:
        default = DeliverySettings().data_dir
        delivery_dir = [default] if default.is_dir() else []
    kafka = kafka_settings(ctx)
    wire = wire_codec(SchemaRegistrySettings(), topic_prefix=kafka.topic_prefix)
    options = VerifyOptions(
        candidate_id,
        worker_app_id=worker_app_id or WorkerSettings().app_id,
        worker_url=worker_url,
        delivery_dirs=tuple(delivery_dir),
        timeout_s=timeout_s,
        wire=wire,
    )
    report = verify(kafka, options)
    if as_json:
        typer.echo(json.dumps(_as_json(report), indent=2))
    else:
        _print(report)
    raise typer.Exit(report.exit_code)


def _as_json(report: Report) -> dict[str, object]:
    return {
        "candidate_id": report.candidate_id,
        "readable": bool(report.readable),
        "exit_code": report.exit_code,
        "findings": [f.__dict__ for f in report.findings],
        "errors": report.errors,
    }


def _print(report: Report) -> None:
    if report.findings:
        table = Table("place", "status", "what", "count", title=f"{report.candidate_id}")
        for finding in sorted(report.findings, key=lambda f: (f.severity != "readable", f.place)):
            status = "[bold red]READABLE[/]" if finding.severity == "readable" else "info"
            table.add_row(finding.place, status, finding.what, str(finding.count))
        console.print(table)
    for error in report.errors:
        console.print(f"[yellow]not checked:[/] {error}", highlight=False)
    if report.readable:
        console.print(f"[bold red]{len(report.readable)} kind(s) of readable data remain[/]")
    elif report.errors:
        console.print("nothing readable found, but some checks could not be made")
    else:
        console.print("[green]nothing readable remains[/] for this candidate")


keys_app = typer.Typer(
    help="Data keys of crypto-shredding (docs/privacy.md).", no_args_is_help=True
)


@keys_app.command("rewrap")
def rewrap(
    ctx: typer.Context,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Longest topic read, s.")] = 60.0,
) -> None:
    """Rewrap every live data key under the current KEK (step 2 of a KEK rotation).

    Exit status 1 when some keys are wrapped with a KEK that is not configured."""
    keks = load_privacy_settings().key_encryption_keys()
    try:
        report = rewrap_keys(kafka_settings(ctx), keks, timeout_s=timeout_s)
    except NurtureError as exc:
        raise fail(exc) from exc
    typer.echo(
        f"{report.live} live key(s): {report.rewrapped} rewrapped under KEK {keks.current_id}, "
        f"{report.unusable} unusable (KEK not configured), "
        f"{report.erased_again} erased meanwhile and tombstoned again"
    )
    if report.unusable:
        raise typer.Exit(1)
