"""The HTTP endpoints. Each handler reads the raw body itself (orjson, within the limits) so that
refusals carry the gateway's own reasons; :mod:`.openapi` documents the bodies.

Order of checks, cheapest first: API key (401), content type (415), size (413), JSON (400),
shape and batch limits (400/413), claimed source (403), rate limit (429), then per-event
validation and publishing (202/422/503).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from producers.gateway.errors import (
    InvalidRecordError,
    KafkaDownError,
    UnsupportedMediaTypeError,
)
from producers.gateway.ingest import normalize
from producers.gateway.limits import (
    JSON,
    body_kind,
    media_type,
    parse_json,
    read_body,
    require_json_charset,
    split_events,
)
from producers.gateway.models import ErrorResponse, Health, IngestResponse, RecordAccepted
from producers.gateway.state import Gateway, gateway_of, request_id_of

router = APIRouter()

CandidateId = Annotated[str, Path(min_length=1, description="Pseudonymous candidate id.")]

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed JSON or not an event / batch."},
    401: {"model": ErrorResponse, "description": "Missing or unknown API key."},
    403: {"model": ErrorResponse, "description": "A record claims another source system."},
    413: {"model": ErrorResponse, "description": "Over a size limit; `limit` names it."},
    415: {"model": ErrorResponse, "description": "Unsupported Content-Type."},
    429: {
        "model": ErrorResponse,
        "description": "Rate limit of this API key exceeded.",
        "headers": _RETRY_AFTER,
    },
}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


@router.post(
    "/v1/events",
    summary="Publish one activity event or a batch",
    status_code=202,
    response_model=None,
    responses={
        202: {
            "model": IngestResponse,
            "description": "At least one event accepted or a "
            "duplicate; each event's outcome is listed (rejected ones with reasons).",
        },
        **_ERRORS,
        422: {"model": IngestResponse, "description": "Every event was rejected."},
        500: {"model": IngestResponse, "description": "Kafka refused an event for good."},
        503: {
            "model": IngestResponse,
            "headers": _RETRY_AFTER,
            "description": "Kafka did "
            "not acknowledge some events: retry those (the others' outcomes are listed).",
        },
    },
)
async def post_events(request: Request) -> Response:
    gateway = gateway_of(request)
    headers = request.headers
    caller = gateway.auth.identify(headers.get("authorization"))
    source = caller.source
    content_type = headers.get("content-type", "")
    ce_headers = {k: v for k, v in headers.items() if k.startswith("ce-")}
    kind = body_kind(content_type, "ce-specversion" in ce_headers)
    limit = gateway.limits.max_batch_bytes
    body = await read_body(request.stream(), headers.get("content-length"), limit=limit)
    items = split_events(parse_json(body), kind, len(body), gateway.limits)
    events = normalize(items, kind, source, ce_headers, content_type)
    gateway.limiter.charge(caller, len(events))
    status, answer = await gateway.events.ingest(events, source, kind)
    extra = {"Retry-After": str(gateway.settings.retry_after_s)} if status == 503 else None
    return _json(status, {"request_id": request_id_of(request), **answer}, extra)


@router.put(
    "/v1/candidates/{candidate_id}/profile",
    summary="Create or replace a candidate's profile",
    status_code=202,
    response_model=None,
    responses={
        202: {"model": RecordAccepted, "description": "Published (acks=all)."},
        **_ERRORS,
        422: {"model": ErrorResponse, "description": "The profile breaks the contract."},
        500: {"model": ErrorResponse, "description": "Kafka refused the record for good."},
        503: {
            "model": ErrorResponse,
            "headers": _RETRY_AFTER,
            "description": "Kafka did not acknowledge; nothing to undo, retry.",
        },
    },
)
async def put_profile(candidate_id: CandidateId, request: Request) -> Response:
    gateway = gateway_of(request)
    headers = request.headers
    caller = gateway.auth.identify(headers.get("authorization"))
    content_type = headers.get("content-type")
    if media_type(content_type) != JSON:
        raise UnsupportedMediaTypeError(f"send the profile as {JSON}")
    require_json_charset(content_type)
    body = await read_body(
        request.stream(),
        headers.get("content-length"),
        limit=gateway.limits.max_event_bytes,
        limit_name="max_event_bytes",
    )
    profile = parse_json(body)
    gateway.limiter.charge(caller, 1)
    answer = await gateway.profiles.upsert(candidate_id, profile, caller.source)
    return _json(202, {"request_id": request_id_of(request), **answer})


@router.delete(
    "/v1/candidates/{candidate_id}",
    summary="Request erasure of a candidate (GDPR)",
    status_code=202,
    response_model=None,
    responses={
        202: {
            "model": RecordAccepted,
            "description": "Erasure request published; the stream processors forget the candidate.",
        },
        401: _ERRORS[401],
        422: {"model": ErrorResponse, "description": "The reason is not acceptable."},
        429: _ERRORS[429],
        500: {"model": ErrorResponse, "description": "Kafka refused the record for good."},
        503: {
            "model": ErrorResponse,
            "headers": _RETRY_AFTER,
            "description": "Kafka did not acknowledge; retry.",
        },
    },
    openapi_extra={
        "parameters": [
            {
                "name": "reason",
                "in": "query",
                "required": False,
                "description": "Why, e.g. gdpr_art17 (never personal data).",
                "schema": {"type": "string", "maxLength": 100},
            }
        ]
    },
)
async def delete_candidate(candidate_id: CandidateId, request: Request) -> Response:
    gateway = gateway_of(request)
    caller = gateway.auth.identify(request.headers.get("authorization"))
    gateway.limiter.charge(caller, 1)
    reason = request.query_params.get("reason")
    if reason is not None and not 0 < len(reason) <= 100:
        raise InvalidRecordError(
            "reason must be 1 to 100 characters",
            errors=[{"field": "reason", "reason": "1 to 100 characters"}],
        )
    answer = await gateway.profiles.erase(candidate_id, caller.source, reason)
    return _json(202, {"request_id": request_id_of(request), **answer})


@router.get("/healthz", summary="The process is up", response_model=Health)
async def healthz() -> Response:
    return _json(200, {"status": "ok"})


@router.get(
    "/readyz",
    summary="Kafka is reachable",
    response_model=Health,
    responses={503: {"model": Health, "headers": _RETRY_AFTER, "description": "Kafka down."}},
)
async def readyz(request: Request) -> Response:
    gateway: Gateway = gateway_of(request)
    kafka_up = await gateway.publisher.ready()
    gateway.metrics.kafka_up.set(1 if kafka_up else 0)
    # Ready once Kafka answers and the ids other gateways accepted in the window are read.
    shared_ids = gateway.shared_ids
    ready = kafka_up and (shared_ids is None or shared_ids.loaded)
    if ready:
        return _json(200, {"status": "ok"})
    error = KafkaDownError("Kafka is unreachable", retry_after_s=gateway.settings.retry_after_s)
    return _json(503, {"status": "unavailable"}, error.headers())


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text format.",
        }
    },
)
async def metrics(request: Request) -> Response:
    registry = gateway_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
