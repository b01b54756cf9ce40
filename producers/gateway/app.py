"""The app factory: ``create_app(settings, kafka, registry)`` -> a FastAPI app ready for uvicorn.

Everything is built here once (API keys, rate limiter, de-duplication window, encoder, the one
Kafka producer) and torn down by the app's lifespan. Tests pass their own registry and may pass a
publisher; the defaults are the live ones.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producers.gateway.aio_publisher import AioKafkaPublisher
from producers.gateway.auth import ApiKeyAuth
from producers.gateway.dedup import AcceptedIds
from producers.gateway.errors import GatewayError
from producers.gateway.ingest import EventIngest, IngestParts
from producers.gateway.limits import Limits
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.openapi import install_openapi
from producers.gateway.profiles import DataKeys, ProfileIngest, kafka_shredder
from producers.gateway.publisher import KafkaPublisher, Publisher
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.routes import router
from producers.gateway.settings import ApiKey, GatewaySettings
from producers.gateway.shared_ids import SharedAcceptedIds
from producers.gateway.state import REQUEST_ID_KEY, Gateway
from producers.gateway.tracking import TrackingIngest
from producers.gateway.tracking_routes import router as tracking_router
from producers.pii import ProfileSealer
from producers.records import RecordEncoder
from producers.settings import ProducerSettings, load_producer_settings
from producers.wire import producer_wire_codec
from schemas.errors import ConfigError
from schemas.privacy.settings import load_privacy_settings
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, GATEWAY_ACCEPTED, KEYS, PROFILE
from schemas.tracking_secret import tracking_secret

log = logging.getLogger(__name__)

DESCRIPTION = """HTTP ingestion for systems not written in Python (career site, e-mail service,
events tool): activity events (own JSON envelope or CloudEvents 1.0), profile upserts and
erasure requests, published to Kafka with acks=all; and the tracking links of e-mails (open pixel,
clicks, one-click unsubscribe), authenticated by their signed tokens. See docs/gateway.md."""


def create_app(
    settings: GatewaySettings,
    kafka: KafkaSettings,
    registry: CollectorRegistry,
    *,
    publisher: Publisher | None = None,
    producer_settings: ProducerSettings | None = None,
) -> FastAPI:
    """The gateway app. Raises :class:`ConfigError` when no API key is configured or the
    tracking key is weak (see :mod:`schemas.tracking_secret`)."""
    keys = _api_keys(settings)
    metrics = GatewayMetrics(registry)
    live = publisher is None
    if publisher is None:
        publisher = _live_publisher(settings, kafka, producer_settings)
    gateway = _gateway(_Wiring(settings, kafka, publisher, metrics), keys, live=live)
    app = _routes_app(_lifespan(gateway, kafka, live=live))
    app.state.gateway = gateway
    app.add_exception_handler(GatewayError, _refusal)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app


@dataclass(frozen=True)
class _Wiring:
    """What every part of the gateway is built from."""

    settings: GatewaySettings
    kafka: KafkaSettings
    publisher: Publisher
    metrics: GatewayMetrics


def _api_keys(settings: GatewaySettings) -> list[ApiKey]:
    """The configured API keys; a :class:`ConfigError` when there are none, or when a rate
    limit names a source without a key."""
    keys = settings.all_api_keys()
    if not keys:
        raise ConfigError(
            "no API keys configured: set NURTURE_GATEWAY_API_KEYS='source=KEY,...' or "
            "NURTURE_GATEWAY_API_KEYS_FILE"
        )
    unknown = sorted(set(settings.rate_limits) - {key.source for key in keys})
    if unknown:
        raise ConfigError(f"NURTURE_GATEWAY_RATE_LIMITS names sources without a key: {unknown}")
    return keys


def _live_publisher(
    settings: GatewaySettings, kafka: KafkaSettings, producer_settings: ProducerSettings | None
) -> Publisher:
    """The Kafka publisher of the configured client (``NURTURE_GATEWAY_PRODUCER``)."""
    client = AioKafkaPublisher if settings.producer == "aiokafka" else KafkaPublisher
    return client(
        kafka,
        producer_settings or load_producer_settings(),
        ack_timeout_s=settings.ack_timeout_s,
        probe_timeout_s=settings.readiness_timeout_s,
        reconnect_every_s=float(settings.retry_after_s),
    )


def _gateway(wiring: _Wiring, keys: list[ApiKey], *, live: bool) -> Gateway:
    """The gateway's state: auth, limits, de-duplication and the three ingests. The shared
    de-duplication topic is used by a live gateway only (tests pass their own publisher)."""
    settings, kafka = wiring.settings, wiring.kafka
    publisher, metrics = wiring.publisher, wiring.metrics
    # The schema ids are looked up now (Schema Registry mode): an unregistered schema or a
    # registry that does not answer stops the gateway at start, in one line.
    encoder = RecordEncoder(dict_validation=settings.validation, wire=producer_wire_codec(kafka))
    privacy = load_privacy_settings()  # the KEK is read (or made, locally) now: fail at start
    dedup = AcceptedIds(settings.dedup_window_s, settings.dedup_max_ids)
    shared_ids = None
    if live and settings.dedup_shared and settings.dedup_window_s > 0:
        shared_ids = SharedAcceptedIds(
            kafka,
            kafka.topic(GATEWAY_ACCEPTED),
            dedup,
            publisher,
            retry_every_s=float(settings.retry_after_s),
        )
    parts = IngestParts(encoder, publisher, metrics)
    events = EventIngest(
        parts,
        dedup,
        kafka.topic(ACTIVITY),
        ack_timeout_s=settings.ack_timeout_s,
        on_accepted=shared_ids.share if shared_ids is not None else None,
    )
    return Gateway(
        settings=settings,
        limits=Limits(
            settings.max_event_bytes, settings.max_batch_bytes, settings.max_batch_events
        ),
        auth=ApiKeyAuth(keys),
        limiter=RateLimiter(settings.rate_limit_of),
        publisher=publisher,
        events=events,
        profiles=ProfileIngest(
            parts,
            DataKeys(
                sealer=ProfileSealer(privacy.key_encryption_keys()),
                shred=kafka_shredder(kafka, timeout_s=privacy.key_scan_timeout_s),
            ),
            topic=kafka.topic(PROFILE),
            keys_topic=kafka.topic(KEYS),
            retry_after_s=settings.retry_after_s,
        ),
        metrics=metrics,
        shared_ids=shared_ids,
        tracking=TrackingIngest(
            tracking_secret(settings.tracking_secret, settings.tracking_secret_file),
            events,
            metrics,
        ),
    )


def _lifespan(
    gateway: Gateway, kafka: KafkaSettings, *, live: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the live publisher and the shared de-duplication reader; close both at the end."""
    publisher, shared_ids = gateway.publisher, gateway.shared_ids

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if live and isinstance(publisher, KafkaPublisher | AioKafkaPublisher):
            await publisher.start()
        if shared_ids is not None:
            await shared_ids.start()
        log.info(
            "gateway up: sources %s, Kafka %s",
            sorted(gateway.auth.sources),
            kafka.bootstrap_servers,
        )
        try:
            yield
        finally:
            if shared_ids is not None:
                await shared_ids.close()
            await publisher.close()

    return lifespan


def _routes_app(lifespan: Any = None) -> FastAPI:
    """The gateway's routes and OpenAPI document, without keys, Kafka or state."""
    app = FastAPI(
        title="candidate-nurture gateway",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(router)
    app.include_router(tracking_router)
    install_openapi(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document as ``/openapi.json`` serves it, built without settings,
    keys or Kafka (what ``nurture spec openapi`` prints into docs/openapi.json)."""
    return _routes_app().openapi()


async def _refusal(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    body = {key: value for key, value in exc.body().items() if value is not None}
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers(),
    )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _RequestMetrics:
    """Pure ASGI middleware: request id, count and latency per route template (bounded)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = request_id
        answered: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
                answered["seconds"] = time.perf_counter() - started
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "(unmatched)")
            method = scope.get("method", "")
            method = method if method in _METHODS else "OTHER"
            seconds = answered.get("seconds", time.perf_counter() - started)
            self.metrics.latency.labels(route, method).observe(seconds)
            self.metrics.requests.labels(route, method, str(answered["status"])).inc()
