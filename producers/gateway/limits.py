"""Reading a request body within the limits: content type, bytes, events per batch.

The limits follow the established event collectors: at most ``max_event_bytes`` (32 KB) per
event, ``max_batch_bytes`` (500 KB) per request and ``max_batch_events`` (500) per batch. The body
is read in chunks and refused as soon as it passes the byte limit, so an oversized upload costs
no more memory than the limit. Each refusal names the limit (setting name and value).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from producers.gateway.errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

#: How the body encodes events: the gateway's own JSON envelope, or CloudEvents 1.0.
BodyKind = Literal["envelope", "ce-structured", "ce-batch", "ce-binary"]

JSON = "application/json"
CE_JSON = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int
    max_batch_bytes: int
    max_batch_events: int


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json`` (lower case)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def require_json_charset(content_type: str | None) -> None:
    """Refuse (415) a charset other than UTF-8: JSON on the wire is UTF-8 (RFC 8259)."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaTypeError(
                f"charset {value.strip()!r} is not supported; use utf-8"
            )


def body_kind(content_type: str | None, has_ce_headers: bool) -> BodyKind:
    """Which encoding a ``POST /v1/events`` body uses, from its headers; 415 if none fits.

    CloudEvents binary mode (``ce-specversion`` present) also takes a body without Content-Type
    as JSON data: an event without ``datacontenttype`` has no Content-Type header in binary
    mode, which is what the official SDK's HTTP helpers send for it.
    """
    kind = media_type(content_type)
    require_json_charset(content_type)
    if kind == CE_JSON:
        return "ce-structured"
    if kind == CE_BATCH:
        return "ce-batch"
    if has_ce_headers and (not kind or kind == JSON or kind.endswith("+json")):
        return "ce-binary"
    if kind == JSON:
        return "envelope"
    raise UnsupportedMediaTypeError(
        f"Content-Type {kind or '(none)'!r} is not supported; send {JSON}, {CE_JSON} or "
        f"{CE_BATCH} (or JSON data with ce-* headers for CloudEvents binary mode)"
    )


async def read_body(
    chunks: AsyncIterator[bytes],
    content_length: str | None,
    *,
    limit: int,
    limit_name: str = "max_batch_bytes",
) -> bytes:
    """The whole body, refused with 413 (naming ``limit_name``) once it passes ``limit`` bytes."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise _too_large_body(limit, limit_name)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large_body(limit, limit_name)
        parts.append(chunk)
    return b"".join(parts)


def _too_large_body(limit: int, limit_name: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is larger than {limit} bytes", limit=limit_name, maximum=limit
    )


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; 400 when it is empty or not JSON."""
    if not body:
        raise MalformedRequestError("the request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequestError(f"the body is not valid JSON: {exc}") from None


def split_events(value: Any, kind: BodyKind, body_size: int, limits: Limits) -> list[Any]:
    """The events of a parsed body, checked against the batch and per-event limits.

    A single event is ``[value]``; for CloudEvents binary mode ``value`` is the event's data.
    Items of a batch are returned as they are (an item that is not an object is rejected later,
    on its own, while the others go through).
    """
    if kind == "ce-batch" or (kind == "envelope" and isinstance(value, dict) and "events" in value):
        return _batch_items(value, kind, body_size, limits)
    if kind != "ce-binary" and not isinstance(value, dict):
        hint = ' (send several events as {"events": [...]})' if kind == "envelope" else ""
        raise MalformedRequestError(f"the body must be a JSON object{hint}")
    if body_size > limits.max_event_bytes:
        raise _too_large_event(limits, None)
    return [value]


def _batch_items(value: Any, kind: BodyKind, body_size: int, limits: Limits) -> list[Any]:
    if kind == "envelope":
        extra = sorted(key for key in value if key != "events")
        if extra:
            raise MalformedRequestError(f"a batch object has only 'events', not {extra[:3]}")
        items = value["events"]
    else:
        items = value
    if not isinstance(items, list):
        expected = '"events" must be' if kind == "envelope" else "the body must be"
        raise MalformedRequestError(f"{expected} a JSON array of events")
    if not items:
        raise MalformedRequestError("the batch holds no events")
    if len(items) > limits.max_batch_events:
        raise PayloadTooLargeError(
            f"the batch holds {len(items)} events; at most {limits.max_batch_events} are allowed",
            limit="max_batch_events",
            maximum=limits.max_batch_events,
        )
    if body_size > limits.max_event_bytes:  # only then can one of its events be too large
        for index, item in enumerate(items):
            if len(orjson.dumps(item)) > limits.max_event_bytes:
                raise _too_large_event(limits, index)
    return items


def _too_large_event(limits: Limits, index: int | None) -> PayloadTooLargeError:
    which = "the event" if index is None else f"event #{index}"
    return PayloadTooLargeError(
        f"{which} is larger than {limits.max_event_bytes} bytes",
        limit="max_event_bytes",
        maximum=limits.max_event_bytes,
    )
