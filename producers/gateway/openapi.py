"""The request side of ``/openapi.json``: bodies, CloudEvents headers and the API key scheme.

Handlers read raw bodies (so FastAPI cannot infer them); this module adds the request bodies,
generated from :mod:`.models` with pydantic, the ``ce-*`` headers of CloudEvents binary mode and
the bearer security scheme to FastAPI's generated document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from producers.gateway.limits import CE_BATCH, CE_JSON, JSON
from producers.gateway.models import CloudEventIn, EventBatch, EventIn, ProfileIn

_REF = "#/components/schemas/{model}"
_CE_HEADERS = ("specversion", "id", "type", "source", "subject", "time", "correlationid")


def _schema(kind: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of ``kind``, its definitions moved to the document's components."""
    schema = TypeAdapter(kind).json_schema(ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    return schema


def _ce_header(name: str) -> dict[str, Any]:
    return {
        "name": f"ce-{name}",
        "in": "header",
        "required": False,
        "description": f"CloudEvents binary mode: the {name} attribute (percent-encoded). "
        "ce-specversion switches an application/json body (or one without Content-Type, "
        "read as JSON) to binary mode.",
        "schema": {"type": "string"},
    }


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the complete document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        event = _schema(EventIn, schemas)
        batch = _schema(EventBatch, schemas)
        cloud_event = _schema(CloudEventIn, schemas)
        profile = _schema(ProfileIn, schemas)
        components["securitySchemes"] = {
            "apiKey": {"type": "http", "scheme": "bearer", "description": "API key of a source."}
        }
        paths = document["paths"]
        events = paths["/v1/events"]["post"]
        events["requestBody"] = {
            "required": True,
            "content": {
                JSON: {"schema": {"anyOf": [event, batch]}},
                CE_JSON: {"schema": cloud_event},
                CE_BATCH: {"schema": {"type": "array", "items": cloud_event, "minItems": 1}},
            },
        }
        events["parameters"] = [_ce_header(name) for name in _CE_HEADERS]
        put = paths["/v1/candidates/{candidate_id}/profile"]["put"]
        put["requestBody"] = {"required": True, "content": {JSON: {"schema": profile}}}
        for path in (
            "/v1/events",
            "/v1/candidates/{candidate_id}/profile",
            "/v1/candidates/{candidate_id}",
        ):
            for operation in paths[path].values():
                operation["security"] = [{"apiKey": []}]
        # FastAPI documents its own 422 for path parameters; the gateway never sends that one.
        for operation in (op for item in paths.values() for op in item.values()):
            answer = operation.get("responses", {}).get("422", {})
            if "HTTPValidationError" in str(answer):
                del operation["responses"]["422"]
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
