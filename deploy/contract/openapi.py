"""docs/openapi.json: the gateway's OpenAPI document as its ``/openapi.json`` serves it."""

from __future__ import annotations

import json

from producers.gateway.app import openapi_document


def render_openapi() -> str:
    """docs/openapi.json as it must be (2-space indent, key order as FastAPI builds it)."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
