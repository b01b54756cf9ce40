"""`nurture worker`: the stream worker (faust) that scores engagement; see docs/worker.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.cli import early_interrupt
from deploy.cli.context import fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings
from streams.worker.run import run_worker
from streams.worker.settings import WorkerSettings


def worker(
    ctx: typer.Context,
    *,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Scoring model file (env NURTURE_WORKER_MODEL_PATH)."),
    ] = None,
    campaigns: Annotated[
        Path | None,
        typer.Option(
            "--campaigns",
            help="Campaign definitions folder or file (env NURTURE_WORKER_CAMPAIGNS_PATH).",
        ),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog", help="Content catalog folder or file (env NURTURE_WORKER_CATALOG_PATH)."
        ),
    ] = None,
    web_port: Annotated[
        int | None,
        typer.Option("--web-port", help="HTTP port (env NURTURE_WORKER_WEB_PORT, default 6066)."),
    ] = None,
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", help="App id / consumer group (env NURTURE_WORKER_APP_ID)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="rocksdb:// or memory:// (env NURTURE_WORKER_STORE)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Local table stores (env NURTURE_WORKER_DATA_DIR)."),
    ] = None,
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock",
            help="What drives campaign timers: wall (live) or stream (each partition's latest "
            "event time, for replays) (env NURTURE_WORKER_CLOCK, default wall).",
        ),
    ] = None,
) -> None:
    """Keep one engagement score per candidate from candidate.activity and candidate.profile.

    Exit status 2 on a configuration error (named field; in Schema Registry mode also a schema
    not registered), 1 when Kafka or the schema registry is unreachable, 70 when
    an agent failed, 75 when offsets stopped advancing (restart it: processing is at-least-once
    and idempotent).
    """
    early_interrupt.hold_until_replaced()  # faust's loop takes SIGINT over as it starts
    settings = WorkerSettings.given(
        model_path=model,
        web_port=web_port,
        app_id=app_id,
        campaigns={"path": campaigns, "catalog_path": catalog},
        store={"url": store, "data_dir": data_dir},
        clock={"source": clock},
    )
    registry = SchemaRegistrySettings()
    try:
        run_worker(settings, kafka_settings(ctx), registry)
    except NurtureError as exc:
        raise fail(exc) from exc
