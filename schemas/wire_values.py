"""Compiled per-schema value conversion around fastavro: timestamps and 32-bit ints.

Why not let fastavro handle ``timestamp-micros``: its logical-type dispatch costs about 1 µs per
timestamp field and direction (a quarter of an activity event's budget), and it reads a *naive*
datetime as local time. So the codec gives fastavro a copy of the schema without that annotation
(:func:`strip_timestamp_micros`: the bytes are the same, a logical type only annotates a ``long``,
and the Parsing Canonical Form, hence the fingerprint, ignores it) and converts the fields itself
with closures compiled by :class:`ValueConverter`, which visit only the fields that need it.
On the way out they also refuse Avro ``int`` values beyond 32 bits, which fastavro writes
without complaint but other Avro readers (Java) cannot read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from schemas.datum import NAIVE_REASON, PathParts
from schemas.timestamps import EPOCH

_LOGICAL = "timestamp-micros"
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_INT_REASON = f"expected a 32-bit int ({_INT_MIN}..{_INT_MAX})"
_Convert = Callable[[Any], Any]


class WireValueError(ValueError):
    """A value the wire cannot carry as the contract means it; ``path`` locates it."""

    def __init__(self, reason: str, path: PathParts) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


def strip_timestamp_micros(schema: Any) -> Any:
    """A deep copy of ``schema`` without ``timestamp-micros`` annotations (same wire format)."""
    stripped = copy.deepcopy(schema)
    _strip(stripped)
    return stripped


def _strip(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _strip(item)
    elif isinstance(node, dict):
        if node.get("logicalType") == _LOGICAL:
            del node["logicalType"]
        for key in ("type", "fields", "items", "values"):
            if key in node:
                _strip(node[key])


class ValueConverter:
    """The two converters of one schema, compiled once.

    ``to_wire(record)`` returns a copy with aware datetimes turned into microseconds (ints pass
    through; other values are left for fastavro to refuse) and raises :class:`WireValueError`
    with the field path for a naive datetime or an ``int`` beyond 32 bits. ``from_wire(record)``
    turns the microseconds of a freshly decoded record into aware UTC datetimes, in place.
    A union value may be a ``(record full name, value)`` tuple, as fastavro reads and writes it.
    """

    def __init__(self, schema: Any) -> None:
        #: True when a union has several records that need converting: the decoder must then
        #: read union values as ``(name, value)`` tuples (fastavro's ``return_record_name``).
        self.needs_record_names = False
        self._named: dict[str, Any] = {}
        self.to_wire: _Convert = self._compile(schema, "", encode=True) or _same
        self._named.clear()
        self.from_wire: _Convert = self._compile(schema, "", encode=False) or _same

    def _compile(self, schema: Any, namespace: str, *, encode: bool) -> _Convert | None:
        if isinstance(schema, str):
            schema = self._named.get(schema, self._named.get(f"{namespace}.{schema}", schema))
        if isinstance(schema, list):
            return self._union(schema, namespace, encode=encode)
        leaf = _leaf_kind(schema)
        if leaf is not None:
            return _LEAVES[leaf, encode]
        if not isinstance(schema, dict):
            return None  # a primitive that needs nothing
        kind = schema["type"]
        if kind == "record":
            return self._record(schema, namespace, encode=encode)
        if kind in ("array", "map"):
            key = "items" if kind == "array" else "values"
            conv = self._compile(schema[key], namespace, encode=encode)
            wrap = _array if kind == "array" else _map
            return None if conv is None else wrap(conv, copy=encode)
        return None if isinstance(kind, str) else self._compile(kind, namespace, encode=encode)

    def _record(self, schema: dict[str, Any], namespace: str, *, encode: bool) -> _Convert | None:
        full_name = _full_name(schema, namespace)
        self._named[full_name] = schema
        inner = full_name.rpartition(".")[0]
        fields = [(f["name"], _leaf_kind(f["type"], optional=True)) for f in schema["fields"]]
        times = [name for name, leaf in fields if leaf == "timestamp"]
        ints = [name for name, leaf in fields if leaf == "int"] if encode else []
        nested = [
            (f["name"], conv)
            for f, (_, leaf) in zip(schema["fields"], fields, strict=True)
            if leaf is None and (conv := self._compile(f["type"], inner, encode=encode))
        ]
        if not (times or ints or nested):
            return None
        return _record_to_wire(times, ints, nested) if encode else _record_from_wire(times, nested)

    def _union(self, branches: list[Any], namespace: str, *, encode: bool) -> _Convert | None:
        by_name: dict[str, _Convert] = {}
        plain: list[_Convert] = []
        for branch in branches:
            conv = self._compile(branch, namespace, encode=encode)
            if conv is None:
                continue
            if isinstance(branch, dict) and branch.get("type") == "record":
                by_name[_full_name(branch, namespace)] = conv
            plain.append(conv)
        if not plain:
            return None
        if len(by_name) > 1:
            self.needs_record_names = True
        return _union(by_name, plain)


def _leaf_kind(schema: Any, *, optional: bool = False) -> str | None:
    """ "timestamp" or "int" for the types converted inline (also ``["null", ...]`` if optional)."""
    if optional and isinstance(schema, list) and len(schema) == 2 and "null" in schema:
        schema = schema[1] if schema[0] == "null" else schema[0]
    if isinstance(schema, dict) and schema.get("logicalType") == _LOGICAL:
        return "timestamp"
    if schema == "int" or (isinstance(schema, dict) and schema == {"type": "int"}):
        return "int"
    return None


def _full_name(schema: Mapping[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def _same(value: Any) -> Any:
    return value


def _timestamp_to_wire(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise WireValueError(NAIVE_REASON, ())
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return value


def _timestamp_from_wire(value: Any) -> Any:
    return EPOCH + timedelta(0, 0, value) if type(value) is int else value


def _int_to_wire(value: Any) -> Any:
    if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
        raise WireValueError(_INT_REASON, ())
    return value


_LEAVES: dict[tuple[str, bool], _Convert] = {
    ("timestamp", True): _timestamp_to_wire,
    ("timestamp", False): _timestamp_from_wire,
    ("int", True): _int_to_wire,
    ("int", False): _same,
}


def _record_to_wire(
    times: list[str], ints: list[str], nested: list[tuple[str, _Convert]]
) -> _Convert:
    """Copies the record; converts its timestamp and int fields inline (the common case)."""

    def record(value: Any) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            return value  # not a record: fastavro reports that
        out = dict(value)
        for name in times:
            item = out.get(name)
            if isinstance(item, datetime):
                if item.tzinfo is None:
                    raise WireValueError(NAIVE_REASON, (name,))
                delta = item - EPOCH
                out[name] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        for name in ints:
            item = out.get(name)
            if type(item) is int and not _INT_MIN <= item <= _INT_MAX:
                raise WireValueError(_INT_REASON, (name,))
        _convert_nested(out, nested)
        return out

    return record


def _record_from_wire(times: list[str], nested: list[tuple[str, _Convert]]) -> _Convert:
    """Converts a decoded record in place (the decoder owns it)."""

    def record(value: Any) -> Any:
        if type(value) is not dict:
            return value
        for name in times:
            item = value.get(name)
            if type(item) is int:
                value[name] = EPOCH + timedelta(0, 0, item)
        if nested:
            _convert_nested(value, nested)
        return value

    return record


def _convert_nested(out: dict[str, Any], nested: list[tuple[str, _Convert]]) -> None:
    for name, conv in nested:
        item = out.get(name)
        if item is not None:
            try:
                out[name] = conv(item)
            except WireValueError as exc:
                exc.path = (name, *exc.path)
                raise


def _array(items: _Convert, *, copy: bool) -> _Convert:
    def array(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        out: Any = list(value) if copy else value
        for i, item in enumerate(out):
            try:
                out[i] = items(item)
            except WireValueError as exc:
                exc.path = (i, *exc.path)
                raise
        return out

    return array


def _map(values: _Convert, *, copy: bool) -> _Convert:
    def mapping(value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out: Any = dict(value) if copy else value
        for key, item in out.items():
            try:
                out[key] = values(item)
            except WireValueError as exc:
                exc.path = (key, *exc.path)
                raise
        return out

    return mapping


def _union(by_name: dict[str, _Convert], plain: list[_Convert]) -> _Convert:
    """Branch by name for ``(name, value)`` tuples; otherwise every branch's converter.

    Applying every branch's converter to a plain value is safe: leaves only touch datetimes and
    ints, records only touch mappings (and the decoder gets tuples where it would be ambiguous).
    """

    def union(value: Any) -> Any:
        if type(value) is tuple and len(value) == 2:
            name, inner = value
            conv = by_name.get(name)
            return (name, conv(inner)) if conv is not None else value
        for conv in plain:
            value = conv(value)
        return value

    return union
