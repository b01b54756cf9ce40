"""Run the gateway under uvicorn (one worker process, uvloop and httptools when installed).

The access log is off: request paths hold candidate ids, and the metrics already count every
request by route template. kafka-python is held at WARNING, because at DEBUG it logs record
values (profiles hold PII); httpx too, whose INFO line per request would log each schema
registry look-up at start (Schema Registry mode), URL and all.
"""

from __future__ import annotations

import logging

import uvicorn
from prometheus_client import REGISTRY, CollectorRegistry

from producers.gateway.app import create_app
from producers.gateway.settings import GatewaySettings
from schemas.settings import KafkaSettings


def uvicorn_config(
    settings: GatewaySettings,
    kafka: KafkaSettings,
    *,
    registry: CollectorRegistry = REGISTRY,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration of one gateway process."""
    app = create_app(settings, kafka, registry)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=1,
        access_log=False,
        log_level=log_level,
        lifespan="on",
        server_header=False,
    )


def serve(settings: GatewaySettings, kafka: KafkaSettings, *, log_level: str = "info") -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish, then the producer is flushed."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.Server(uvicorn_config(settings, kafka, log_level=log_level)).run()
