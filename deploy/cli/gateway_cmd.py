"""`nurture gateway`: the HTTP ingestion gateway; see docs/gateway.md."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deploy.cli.context import fail, kafka_settings
from schemas.errors import NurtureError
from schemas.schema_registry.settings import SchemaRegistrySettings


def gateway(
    ctx: typer.Context,
    *,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Interface (env NURTURE_GATEWAY_HOST, default 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="TCP port (env NURTURE_GATEWAY_PORT, default 8080)."),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Accept activity events, CloudEvents, profile upserts and erasure requests over HTTP.

    API keys come from NURTURE_GATEWAY_API_KEYS ('career-site=KEY,ats=KEY') or
    NURTURE_GATEWAY_API_KEYS_FILE. Exit status 2 on a configuration error (one line naming the
    setting, or a schema not registered in Schema Registry mode), 1 when it cannot start
    otherwise (such as a schema registry that does not answer).
    """
    from producers.gateway.server import serve  # noqa: PLC0415 - keeps `nurture --help` fast
    from producers.gateway.settings import GatewaySettings  # noqa: PLC0415

    flags: dict[str, Any] = {"host": host, "port": port}
    settings = GatewaySettings(**{k: v for k, v in flags.items() if v is not None})
    SchemaRegistrySettings()  # its errors now, before the API keys (the app reads it again)
    try:
        serve(settings, kafka_settings(ctx), log_level=log_level.lower())
    except NurtureError as exc:
        raise fail(exc) from exc
