"""Decoded records as JSON and back, guided by their Avro schema.

Export writes records as plain JSON (what a person reads in an incident): timestamps as ISO 8601
UTC strings, bytes as ``{"$base64": "..."}``, unions unwrapped. Import turns that JSON back into
the Avro dict form the codec encodes, using the schema to know which strings are timestamps and
which union branch a JSON object belongs to (the branch whose fields hold all its keys).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.errors import ValidationError
from schemas.timestamps import from_micros, to_micros

_TIMESTAMPS = {"timestamp-micros", "timestamp-millis"}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "string", "bytes"}

Names = dict[str, Any]


def to_json(schema: Any, datum: Any) -> Any:
    """JSON-safe form of ``datum`` (a decoded record) of ``schema``."""
    return _to_json(schema, datum, {})


def from_json(schema: Any, value: Any) -> Any:
    """The Avro dict form of ``value`` (what :func:`to_json` produced) for ``schema``."""
    return _from_json(schema, value, {}, "")


def _named(schema: Any, names: Names) -> Any:
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return names.get(schema, names.get(schema.rsplit(".", 1)[-1], schema))
    if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
        names[schema["name"]] = schema
        if "namespace" in schema:
            names[f"{schema['namespace']}.{schema['name']}"] = schema
    return schema


def _to_json(schema: Any, datum: Any, names: Names) -> Any:  # noqa: PLR0911 - one per kind
    schema = _named(schema, names)
    if datum is None:
        return None
    if isinstance(datum, datetime):
        return datum.astimezone(UTC).isoformat()
    if isinstance(datum, bytes):
        return {"$base64": base64.b64encode(datum).decode()}
    if isinstance(schema, list):
        return _to_json(_branch_for(schema, datum, names), datum, names)
    kind = schema.get("type") if isinstance(schema, dict) else schema
    if kind == "record" and isinstance(datum, Mapping):
        fields = {f["name"]: f["type"] for f in schema["fields"]}
        return {k: _to_json(fields.get(k, "null"), v, names) for k, v in datum.items()}
    if kind == "array":
        return [_to_json(schema["items"], item, names) for item in datum]
    if kind == "map":
        return {k: _to_json(schema["values"], v, names) for k, v in datum.items()}
    if isinstance(kind, dict | list):
        return _to_json(kind, datum, names)
    return datum


def _from_json(schema: Any, value: Any, names: Names, path: str) -> Any:  # noqa: PLR0911
    schema = _named(schema, names)
    if isinstance(schema, list):
        return _from_json(_branch_for(schema, value, names), value, names, path)
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"$base64"}:
        return base64.b64decode(value["$base64"])
    kind = schema.get("type") if isinstance(schema, dict) else schema
    if isinstance(schema, dict) and schema.get("logicalType") in _TIMESTAMPS:
        return _timestamp(value, path)
    if kind == "record" and isinstance(value, Mapping):
        fields = {f["name"]: f["type"] for f in schema["fields"]}
        return {
            k: _from_json(fields.get(k, "null"), v, names, f"{path}.{k}".lstrip("."))
            for k, v in value.items()
        }
    if kind == "array" and isinstance(value, list):
        return [_from_json(schema["items"], v, names, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, Mapping):
        return {k: _from_json(schema["values"], v, names, f"{path}.{k}") for k, v in value.items()}
    if isinstance(kind, dict | list):
        return _from_json(kind, value, names, path)
    return value


def _branch_for(union: list[Any], value: Any, names: Names) -> Any:
    """The union branch ``value`` belongs to (JSON or decoded form); ``null`` for None."""
    branches = [_named(b, names) for b in union]
    if value is None:
        return "null"
    for branch in branches:
        if _fits(branch, value):
            return branch
    return next((b for b in branches if b != "null"), "null")


def _fits(branch: Any, value: Any) -> bool:
    kind = branch.get("type") if isinstance(branch, dict) else branch
    logical = branch.get("logicalType") if isinstance(branch, dict) else None
    if logical in _TIMESTAMPS:
        return isinstance(value, datetime | str | int) and not isinstance(value, bool)
    if kind == "record":
        names = {f["name"] for f in branch["fields"]}
        required = {f["name"] for f in branch["fields"] if "default" not in f}
        return isinstance(value, Mapping) and set(value) <= names and required <= set(value)
    if kind == "array":
        return isinstance(value, list)
    if kind == "map":
        return isinstance(value, Mapping)
    checks: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "int": int,
        "long": int,
        "float": (int, float),
        "double": (int, float),
        "bytes": (bytes, dict),
        "enum": str,
    }
    expected = checks.get(str(kind))
    return expected is not None and isinstance(value, expected)


def _timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return from_micros(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(path, f"expected an ISO 8601 time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValidationError(path, f"time {value!r} has no zone (give Z or an offset)")
    return from_micros(to_micros(parsed))
