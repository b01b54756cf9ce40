"""What the AsyncAPI document says about values that are not Avro, and about record headers.

Avro values are described by their registry schemas (``TopicSpec.subjects``); the few topics whose
values are something else (JSON records, a dead letter's original bytes) are described here, as
JSON Schema, next to the headers the writers add. The header names come from the modules that
write them, so a renamed header changes the document (and the freshness test fails).
"""

from __future__ import annotations

from typing import Any

from consumers.retries import (
    ATTEMPT_HEADER,
    FIRST_ATTEMPT_HEADER,
    NOT_BEFORE_HEADER,
    REASON_HEADER,
)
from producers.records import CONTENT_TYPE, CONTENT_TYPE_HEADER, SOURCE_HEADER
from schemas.privacy.data_keys import FORMAT as DATA_KEY_FORMAT
from schemas.topics import (
    ACTION_DLQ,
    ACTION_RETRY,
    ACTIVITY,
    ACTIVITY_DLQ,
    GATEWAY_ACCEPTED,
    KEYS,
    PROFILE,
    PROFILE_DLQ,
)
from streams.worker import dlq

JsonSchema = dict[str, Any]


def _string(description: str) -> JsonSchema:
    return {"type": "string", "description": description}


def _headers(properties: dict[str, str]) -> JsonSchema:
    """Kafka headers as a JSON Schema object: every value is a UTF-8 string."""
    return {
        "type": "object",
        "description": "Kafka record headers (values UTF-8).",
        "properties": {name: _string(text) for name, text in properties.items()},
    }


_PRODUCER_HEADERS = _headers(
    {
        CONTENT_TYPE_HEADER: f"`{CONTENT_TYPE.decode()}` (SDK and gateway; optional for readers)",
        SOURCE_HEADER: "the publishing system, e.g. `career-site` (SDK and gateway; optional)",
    }
)

_WORKER_DLQ_HEADERS = _headers(
    {
        dlq.HEADER_TOPIC: "topic the record was read from",
        dlq.HEADER_PARTITION: "its partition (decimal)",
        dlq.HEADER_OFFSET: "its offset (decimal)",
        dlq.HEADER_ERROR_CLASS: "the exception class, e.g. `CorruptPayloadError`",
        dlq.HEADER_ERROR_MESSAGE: "the exception message",
        dlq.HEADER_TRUNCATED: "what was cut from a letter over 512 KiB: value, key, headers",
        dlq.HEADER_HEADERS_DROPPED: "how many original headers were left out",
    }
)

_ACTION_DLQ_HEADERS = _headers(
    {
        REASON_HEADER: "why it was dead-lettered, e.g. `retry_horizon` or `schema_error`",
        "nurture-channel": "the delivery channel that gave up",
        ATTEMPT_HEADER: "the last attempt (decimal)",
        "nurture-origin": "topic[partition] offset=N of an undecodable action (`schema_error`); "
        "its letter keeps that record's own headers before these, e.g. a retry record's "
        f"`{NOT_BEFORE_HEADER}` and `{ATTEMPT_HEADER}`",
        "nurture-error-class": "the error of an undecodable action, e.g. "
        "`SchemaRegistryUnavailableError`",
        "nurture-error": "that error's message",
    }
)

_RETRY_HEADERS = _headers(
    {
        NOT_BEFORE_HEADER: "epoch milliseconds before which the action is not retried",
        ATTEMPT_HEADER: "the attempt this record asks for (decimal)",
        FIRST_ATTEMPT_HEADER: "epoch milliseconds of the first attempt",
        REASON_HEADER: "why it waits, e.g. `not_before` (quiet hours) or the failure reason",
    }
)

#: The headers of each topic's records, where the writers add any.
HEADERS: dict[str, JsonSchema] = {
    ACTIVITY: _PRODUCER_HEADERS,
    PROFILE: _PRODUCER_HEADERS,
    KEYS: _PRODUCER_HEADERS,
    ACTIVITY_DLQ: _WORKER_DLQ_HEADERS,
    PROFILE_DLQ: _WORKER_DLQ_HEADERS,
    ACTION_DLQ: _ACTION_DLQ_HEADERS,
    ACTION_RETRY: _RETRY_HEADERS,
}

_ORIGINAL_BYTES: JsonSchema = {
    "type": "string",
    "format": "binary",
    "description": "the original record's value, byte for byte (a prefix when truncated)",
}

#: The value of each topic whose records are not Avro: (content type, JSON Schema).
NON_AVRO_VALUES: dict[str, tuple[str, JsonSchema]] = {
    ACTIVITY_DLQ: ("application/octet-stream", _ORIGINAL_BYTES),
    PROFILE_DLQ: ("application/octet-stream", _ORIGINAL_BYTES),
    KEYS: (
        "application/json",
        {
            "type": ["object", "null"],
            "description": "a data key wrapped (AES-256-GCM) under the key-encryption key; "
            "null (a tombstone) once the candidate is erased. Binary fields are base64url "
            "without padding. Never written by other systems (docs/privacy.md).",
            "required": ["format", "kek_id", "nonce", "wrapped_key", "created_at"],
            "properties": {
                "format": {"const": DATA_KEY_FORMAT},
                "kek_id": _string("short id of the key-encryption key that wrapped it"),
                "nonce": _string("AES-GCM nonce (base64url)"),
                "wrapped_key": _string("the wrapped data key (base64url)"),
                "created_at": _string("when the key was made (RFC 3339)"),
            },
        },
    ),
    GATEWAY_ACCEPTED: (
        "application/json",
        {
            "type": "object",
            "description": "the event ids one gateway request got accepted (internal to the "
            "gateways' de-duplication)",
            "required": ["v", "gateway", "accepted_at_ms", "ids"],
            "properties": {
                "v": {"const": 1},
                "gateway": _string("instance id of the gateway process"),
                "accepted_at_ms": {"type": "integer", "description": "epoch milliseconds"},
                "ids": {"type": "array", "items": {"type": "string"}},
            },
        },
    ),
}
