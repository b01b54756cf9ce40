"""Checks of a plain-dict record against an Avro schema, with the field path of the first problem.

fastavro's encoder is fast but says little when a record does not fit ("no value and no default
for x"), so the codec runs :func:`find_problem` only after fastavro has refused a record, to name
the field for the :class:`~schemas.errors.ValidationError`.

Paths look like ``payload.job_id``, ``content[0].url``, ``consents.email.granted_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

PathParts = tuple[str | int, ...]

_TIMESTAMPS = {"timestamp-micros", "timestamp-millis"}
_PRIMITIVES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "null": (lambda v: v is None, "null"),
    "boolean": (lambda v: isinstance(v, bool), "a boolean"),
    "int": (lambda v: _is_int(v) and -(2**31) <= v < 2**31, "a 32-bit int"),
    "long": (lambda v: _is_int(v) and -(2**63) <= v < 2**63, "a 64-bit int"),
    "float": (lambda v: _is_int(v) or isinstance(v, float), "a number"),
    "double": (lambda v: _is_int(v) or isinstance(v, float), "a number"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "bytes": (lambda v: isinstance(v, bytes), "bytes"),
}
NAIVE_REASON = "naive datetime: give a timezone-aware UTC datetime (naive ones are ambiguous)"


def format_path(parts: Iterable[str | int]) -> str:
    """``("content", 0, "url")`` -> ``"content[0].url"``; the empty path is ``"(record)"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(record)"


def find_problem(schema: Any, datum: Any, *, strict: bool = True) -> tuple[str, str] | None:
    """The first place where ``datum`` does not fit ``schema``, as ``(path, reason)``.

    None when it fits. ``strict`` also reports keys the schema does not have (fastavro would
    drop them silently). A union value may be a ``(record name, value)`` tuple, as fastavro
    accepts.
    """
    found = _Walker(strict).check(schema, datum, ())
    return None if found is None else (format_path(found[0]), found[1])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema.get("name") or schema.get("type"))
    return str(schema)


Problem = tuple[PathParts, str]


class _Walker:
    """Walks a schema and a datum together; ``named`` collects named types for references."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.named: dict[str, Any] = {}
        self._by_kind = {
            "record": self._record,
            "array": self._array,
            "map": self._map,
            "enum": self._enum,
            "fixed": self._fixed,
        }

    def check(self, schema: Any, datum: Any, path: PathParts) -> Problem | None:
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        if isinstance(schema, list):
            return self._union(schema, datum, path)
        if isinstance(schema, str):
            if schema not in _PRIMITIVES:
                return path, f"unknown Avro type {schema!r}"
            test, expected = _PRIMITIVES[schema]
            return None if test(datum) else (path, f"expected {expected}, got {_kind(datum)}")
        if schema.get("logicalType") in _TIMESTAMPS and not _is_int(datum):
            return _timestamp(datum, path)
        if "name" in schema:
            self._remember(schema)
        check = self._by_kind.get(schema["type"])
        if check is None:
            return self.check(schema["type"], datum, path)  # {"type": "string"} and the like
        return check(schema, datum, path)

    def _remember(self, schema: dict[str, Any]) -> None:
        name = str(schema["name"])
        self.named[name.rsplit(".", 1)[-1]] = schema
        self.named[name] = schema
        if schema.get("namespace"):
            self.named[f"{schema['namespace']}.{name}"] = schema

    def _record(self, schema: dict[str, Any], datum: Any, path: PathParts) -> Problem | None:
        if not isinstance(datum, Mapping):
            return path, f"expected a {schema['name']} record (dict), got {_kind(datum)}"
        for field in schema["fields"]:
            name = field["name"]
            if name in datum:
                if found := self.check(field["type"], datum[name], (*path, name)):
                    return found
            elif "default" not in field:
                return (*path, name), "field required (it has no default)"
        if self.strict:
            names = {field["name"] for field in schema["fields"]}
            for key in datum:
                if key not in names:
                    return (*path, key), f"unknown field: {schema['name']} has no such field"
        return None

    def _array(self, schema: dict[str, Any], datum: Any, path: PathParts) -> Problem | None:
        if not isinstance(datum, list | tuple):
            return path, f"expected a list, got {_kind(datum)}"
        for i, item in enumerate(datum):
            if found := self.check(schema["items"], item, (*path, i)):
                return found
        return None

    def _map(self, schema: dict[str, Any], datum: Any, path: PathParts) -> Problem | None:
        if not isinstance(datum, Mapping):
            return path, f"expected a map (dict), got {_kind(datum)}"
        for key, item in datum.items():
            if not isinstance(key, str):
                return path, f"map keys must be strings, got {_kind(key)}"
            if found := self.check(schema["values"], item, (*path, key)):
                return found
        return None

    def _enum(self, schema: dict[str, Any], datum: Any, path: PathParts) -> Problem | None:
        ok = datum in schema["symbols"]
        return None if ok else (path, f"{datum!r} is not one of {schema['symbols']}")

    def _fixed(self, schema: dict[str, Any], datum: Any, path: PathParts) -> Problem | None:
        ok = isinstance(datum, bytes) and len(datum) == schema["size"]
        return None if ok else (path, f"expected {schema['size']} bytes")

    def _union(self, branches: list[Any], datum: Any, path: PathParts) -> Problem | None:
        resolved = [self.named.get(b, b) if isinstance(b, str) else b for b in branches]
        if isinstance(datum, tuple) and len(datum) == 2 and isinstance(datum[0], str):
            name, value = datum
            for branch in resolved:
                if isinstance(branch, dict) and name.rsplit(".", 1)[-1] == _short(branch):
                    return self.check(branch, value, path)
            return path, f"the union has no branch named {name!r}"
        problems = [self.check(branch, datum, path) for branch in resolved]
        if any(problem is None for problem in problems):
            return None
        non_null = [p for b, p in zip(resolved, problems, strict=True) if b != "null"]
        if len(non_null) == 1 and non_null[0] is not None:
            return non_null[0]
        kinds = ", ".join(_type_name(b) for b in resolved)
        return path, f"{_kind(datum)} value matches none of the union branches ({kinds})"


def _timestamp(datum: Any, path: PathParts) -> Problem | None:
    if not isinstance(datum, datetime):
        return path, f"expected a timezone-aware datetime, got {_kind(datum)}"
    return (path, NAIVE_REASON) if datum.tzinfo is None else None


def _kind(value: Any) -> str:
    return type(value).__name__


def _short(schema: dict[str, Any]) -> str:
    return str(schema.get("name", "")).rsplit(".", 1)[-1]
