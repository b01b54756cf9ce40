"""The gateway's parts, built once per app and reached from handlers via ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from producers.gateway.auth import ApiKeyAuth
from producers.gateway.ingest import EventIngest
from producers.gateway.limits import Limits
from producers.gateway.metrics import GatewayMetrics
from producers.gateway.profiles import ProfileIngest
from producers.gateway.publisher import Publisher
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.settings import GatewaySettings
from producers.gateway.shared_ids import SharedAcceptedIds
from producers.gateway.tracking import TrackingIngest

#: Key of the request id in the ASGI scope (set by the metrics middleware).
REQUEST_ID_KEY = "nurture.request_id"


@dataclass(frozen=True)
class Gateway:
    settings: GatewaySettings
    limits: Limits
    auth: ApiKeyAuth
    limiter: RateLimiter
    publisher: Publisher
    events: EventIngest
    profiles: ProfileIngest
    metrics: GatewayMetrics
    #: Accepted ids shared with the other gateway processes (None: this process only).
    shared_ids: SharedAcceptedIds | None
    tracking: TrackingIngest


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def request_id_of(request: Request) -> str:
    return str(request.scope.get(REQUEST_ID_KEY, ""))
