"""`nurture bench ...`: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import typer

from deploy.cli.context import fail, kafka_settings
from producers.records import DictValidation
from schemas.errors import NurtureError

app = typer.Typer(help="Benchmarks; each prints its figures.", no_args_is_help=True)


@app.command("sdk")
def sdk(
    ctx: typer.Context,
    events: int = typer.Option(50_000, "--events", min=1, help="Events per side and round."),
    rounds: int = typer.Option(5, "--rounds", min=1, help="Alternating raw/SDK rounds."),
    validation: str = typer.Option(
        "", "--validation", help="Dict validation: codec or model (default: the SDK setting)."
    ),
) -> None:
    """Producer SDK vs a raw kafka-python producer on a fresh topic (events/s and ratio).

    Target: the SDK (dict events, validated and encoded) keeps >= 80% of the raw producer's
    throughput. Needs the broker (--bootstrap).
    """
    from producers.bench import bench_sdk  # noqa: PLC0415 - only this command needs it

    choices: dict[str, DictValidation | None] = {"": None, "codec": "codec", "model": "model"}
    if validation not in choices:
        raise fail("--validation must be codec or model", code=2)
    try:
        bench_sdk(
            kafka_settings(ctx),
            n=events,
            rounds=rounds,
            dict_validation=choices[validation],
            report=typer.echo,
        )
    except NurtureError as exc:
        raise fail(exc) from exc
