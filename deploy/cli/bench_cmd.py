"""`nurture bench ...`: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from deploy.cli.context import fail, kafka_settings
from producers.records import DictValidation
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings

app = typer.Typer(help="Benchmarks; each prints its figures.", no_args_is_help=True)


@app.command("codec")
def codec(
    events: int = typer.Option(100_000, "--events", help="Events per measurement."),
) -> None:
    """Avro single-object encode/decode of one typical activity event (µs per event).

    Target: encode + decode < 20 µs. No broker needed.
    """
    from schemas.bench import bench_codec  # noqa: PLC0415 - only this command needs it

    figures = bench_codec(events)
    for name, value in figures.items():
        typer.echo(f"{name:<32} {value:10.2f}")


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
    from producers.bench import SdkBenchOptions, bench_sdk  # noqa: PLC0415 - only this command

    choices: dict[str, DictValidation | None] = {"": None, "codec": "codec", "model": "model"}
    if validation not in choices:
        raise fail("--validation must be codec or model", code=2)
    try:
        options = SdkBenchOptions(n=events, rounds=rounds, dict_validation=choices[validation])
        bench_sdk(kafka_settings(ctx), options=options, report=typer.echo)
    except NurtureError as exc:
        raise fail(exc) from exc


@app.command("gateway")
def gateway(
    ctx: typer.Context,
    seconds: float = typer.Option(15.0, "--seconds", min=1, help="Measured load duration."),
    batch: int = typer.Option(100, "--batch", min=1, help="Events per request."),
    connections: int = typer.Option(8, "--connections", min=1, help="Concurrent connections."),
    validation: str = typer.Option(
        "codec", "--validation", help="Gateway validation: codec or model."
    ),
) -> None:
    """One `nurture gateway` process under HTTP load: accepted events/s, p50/p99 latency.

    Target: >= 10,000 events/s in batches of 100. Starts the gateway as its own process on a
    fresh topic prefix (deleted afterwards); the load client runs in this process. Needs the
    broker (--bootstrap).
    """
    from producers.gateway.bench import (  # noqa: PLC0415 - only this command
        GatewayBenchOptions,
        bench_gateway,
    )

    if validation not in ("codec", "model"):
        raise fail("--validation must be codec or model", code=2)
    try:
        options = GatewayBenchOptions(
            seconds=seconds, batch=batch, connections=connections, validation=validation
        )
        bench_gateway(kafka_settings(ctx), options, report=typer.echo)
    except NurtureError as exc:
        raise fail(exc) from exc


@app.command("worker")
def worker(
    ctx: typer.Context,
    *,
    events: int = typer.Option(200_000, "--events", min=1000, help="Events to score."),
    candidates: int = typer.Option(20_000, "--candidates", min=1, help="Distinct candidates."),
    rate: float = typer.Option(2_000.0, "--latency-rate", min=1, help="Events/s for latency."),
    seconds: float = typer.Option(15.0, "--latency-seconds", min=1, help="Latency run length."),
    processes: int = typer.Option(
        1, "--processes", min=1, help="Also time N scoring worker processes in one group."
    ),
    registry: bool = typer.Option(
        True,
        "--registry/--no-registry",
        help="Also score Confluent-framed input (starts a throw-away local schema registry).",
    ),
) -> None:
    """One `nurture worker` vs the raw aiokafka consume+decode ceiling; latency at a steady rate.

    Targets: worker >= 50% of the ceiling and >= 20,000 events/s; p99 event-to-engagement-record
    latency < 100 ms at 2,000 events/s. Fresh topic prefix (deleted afterwards); needs the broker.
    With --processes N (N > 1), also N scoring workers sharing the partitions (scale-out).
    The scoring run is repeated on the same events in the Confluent wire format against a local
    Apicurio Registry started for the bench on free ports and stopped after it (Java 21+; without
    it, or with --no-registry, that run is skipped with the reason).
    """
    from streams.bench.worker import BenchOptions, bench_worker  # noqa: PLC0415 - only this command

    try:
        with _bench_registry(enabled=registry) as registry_settings:
            options = BenchOptions(
                events=events,
                candidates=candidates,
                latency_rate=rate,
                latency_seconds=seconds,
                processes=processes,
                registry=registry_settings,
            )
            bench_worker(kafka_settings(ctx), options, report=typer.echo)
    except NurtureError as exc:
        raise fail(exc) from exc


@contextmanager
def _bench_registry(*, enabled: bool) -> Iterator[SchemaRegistrySettings | None]:
    """A throw-away local schema registry for the Confluent-framed run (so no configured
    registry gets the bench's subjects), stopped at the end; None, saying why, when there is
    none (--no-registry, no Java 21+, the release cannot be fetched)."""
    from deploy.registry.errors import RegistryError  # noqa: PLC0415 - only this command
    from deploy.registry.process import LocalRegistry, ensure_local_registry  # noqa: PLC0415
    from deploy.registry.settings import RegistrySettings  # noqa: PLC0415
    from streams.worker.probe import free_port  # noqa: PLC0415

    if not enabled:
        typer.echo("Confluent-framed run: skipped (--no-registry)")
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="nurture-bench-registry-") as tmp:
        settings = RegistrySettings(
            port=free_port(), management_port=free_port(), data_dir=Path(tmp)
        )
        try:
            url = ensure_local_registry(settings)
        except RegistryError as exc:
            typer.echo(f"Confluent-framed run: skipped, no local schema registry: {exc}")
            yield None
            return
        try:
            typer.echo(f"schema registry for the Confluent-framed run: {url}")
            yield SchemaRegistrySettings(url=url, timeout_s=10)
        finally:
            LocalRegistry(settings).stop()


@app.command("processor")
def processor(
    events: int = typer.Option(50_000, "--events", min=1000, help="Events to process."),
    candidates: int = typer.Option(20_000, "--candidates", min=1, help="Distinct candidates."),
) -> None:
    """CPU per event of the worker's processing alone (no Kafka, no faust), with and without
    the campaign engine: isolates the hot path from the broker and the machine's noise."""
    from streams.bench.processor import bench_processor  # noqa: PLC0415 - only this command

    bench_processor(events, candidates, report=typer.echo)


@app.command("replay")
def replay(
    ctx: typer.Context,
    events: int = typer.Option(200_000, "--events", min=1000, help="Events to replay."),
    candidates: int = typer.Option(20_000, "--candidates", min=1, help="Distinct candidates."),
    processes: int = typer.Option(2, "--processes", min=1, help="Rebuild processes."),
    live_rate: float | None = typer.Option(
        None, "--live-rate", help="Live worker ev/s to compare with (default: measure it)."
    ),
) -> None:
    """`nurture replay rebuild` throughput (1 and N processes) vs one live worker.

    Target: rebuild >= 2x the live single-worker rate. Fresh topic prefix (deleted
    afterwards); needs the broker.
    """
    from streams.bench.replay import (  # noqa: PLC0415 - only this command
        ReplayBenchOptions,
        bench_replay,
    )

    try:
        options = ReplayBenchOptions(events, candidates, processes, live_rate)
        bench_replay(kafka_settings(ctx), options, report=typer.echo)
    except NurtureError as exc:
        raise fail(exc) from exc
