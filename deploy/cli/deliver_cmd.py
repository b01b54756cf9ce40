"""`nurture deliver`: the delivery consumer of one channel; see docs/delivery.md."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from consumers.liveness import EXIT_STALLED, StalledError
from consumers.run import run_delivery
from consumers.settings import DeliverySettings
from deploy.cli import early_interrupt
from deploy.cli.context import fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings


def deliver(
    ctx: typer.Context,
    *,
    channel: Annotated[
        str,
        typer.Option(
            "--channel",
            help="email, career_event_invite, ad_audience, recruiter_alert or webhook.",
        ),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Delivery store (env NURTURE_DELIVERY_DATA_DIR)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Prometheus port (env NURTURE_DELIVERY_METRICS_PORT)."),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option("--log-level", envvar="NURTURE_DELIVERY_LOG_LEVEL", help="Python log level."),
    ] = "WARNING",
) -> None:
    """Send each action of CHANNEL once; outcomes go to nurture.delivery.

    Exit status 2 on a configuration error (a setting, an unknown channel, a missing topic); 1
    when Kafka is unreachable (restart it: redelivered actions are no-ops); 75 when offsets
    stopped advancing while actions waited (NURTURE_DELIVERY_STALL_TIMEOUT_S; restart it).
    SIGTERM finishes the record in flight, commits what is done and exits 0. With
    --metrics-port, GET /health shows commit progress. With NURTURE_SCHEMA_REGISTRY_URL,
    outcomes are written in the Confluent wire format (exit 2 when their schema is not
    registered, 1 when the registry does not answer at start).
    """
    early_interrupt.hold_until_replaced()  # run_delivery sets its own SIGINT handler
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    flags: dict[str, Any] = {"data_dir": data_dir, "metrics_port": metrics_port}
    settings = DeliverySettings(**{k: v for k, v in flags.items() if v is not None})
    schema_registry = SchemaRegistrySettings()
    try:
        run_delivery(channel, settings, kafka_settings(ctx), schema_registry)
    except StalledError as exc:
        raise fail(f"stalled, exiting with status {EXIT_STALLED}: {exc}", EXIT_STALLED) from exc
    except NurtureError as exc:
        raise fail(exc) from exc
