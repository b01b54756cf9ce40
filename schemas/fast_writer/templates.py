"""The fast writer's generated code: one straight-line Python function per record type.

:class:`RecordSource` writes the source of a record's writer field by field from the line
templates below (strings, numbers and timestamps written inline, other fields calling their
compiled closure) and compiles it. A loop over field descriptions costs about twice as much, and
fastavro three times, for an event of ten fields. The generated code names the primitives by
their ``_``-prefixed names (the namespace it runs in maps them to :mod:`.primitives`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.fast_writer.primitives import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    MEMO_SIZE,
    MISSING,
    PAIRS,
    SMALL,
    NotFastError,
    Write,
    pack_double,
    varint,
    write_double,
    write_int,
    write_long,
    write_string,
    write_timestamp_micros,
    zigzag,
)
from schemas.timestamps import EPOCH


@dataclass(frozen=True)
class RecordChecks:
    """What a record's writer checks and fills beyond its schema (see
    :class:`~schemas.fast_writer.builders.FastWriter`): top-level fields only, a nested record
    keeps ``datetimes_only`` alone (:meth:`nested`)."""

    #: String fields that must not be empty (the codec's ``REQUIRED_TEXT``).
    required_text: frozenset[str] = frozenset()
    #: Required strings with few values whose bytes are remembered.
    repeated_text: frozenset[str] = frozenset()
    #: A timestamp written as the writer's ``now`` when the record lacks it.
    now_field: str | None = None
    #: ``(later, earlier, micros)``: refuse ``later`` more than ``micros`` after ``earlier``.
    max_lead: tuple[str, str, int] | None = None
    #: Refuse timestamps given as integers.
    datetimes_only: bool = False

    def nested(self) -> RecordChecks:
        """The checks of a record inside this one."""
        return RecordChecks(datetimes_only=self.datetimes_only)


class RecordSource:
    """Writes the source of one record's writer function, field by field, then compiles it.

    Strings and timestamps (plain or ``["null", T]``), most fields of the contract, are written
    inline; any other field calls its compiled closure (``w<N>``). A field missing from the
    record gets its default's bytes (``d<N>``) or refuses the record, like fastavro's
    ``strict_allow_default``.
    """

    def __init__(self, name: str, checks: RecordChecks) -> None:
        self._name = name
        self._repeated_text = checks.repeated_text
        self._required_text = checks.required_text
        self._now_field = checks.now_field
        self._max_lead = checks.max_lead
        self._timestamp_lines = _DATETIME_LINES if checks.datetimes_only else _TIMESTAMP_LINES
        self._names: list[str] = []
        self._lines: list[str] = []
        self._constants: dict[str, Any] = {
            "Mapping": Mapping, "datetime": datetime, "EPOCH": EPOCH, "_MISSING": MISSING,
            "_NotFastError": NotFastError, "_SMALL": SMALL, "_varint": varint, "_long": write_long,
            "_zigzag": zigzag, "MEMO_SIZE": MEMO_SIZE, "_PAIRS": PAIRS,
            "_LONG_MIN": LONG_MIN, "_LONG_MAX": LONG_MAX, "_INT_MIN": INT_MIN,
            "_INT_MAX": INT_MAX, "_pack_double": pack_double,
        }  # fmt: skip

    def field(self, field: Mapping[str, Any], write: Write) -> None:
        name, field_type = field["name"], field["type"]
        self._names.append(name)
        default = _default_bytes(field, write)
        optional = _null_first(field_type)
        if name in self._required_text:  # missing or empty: the codec refuses it
            self._emit(1, f"v = get({name!r})")
            self._emit(1, "if not v:")
            self._emit(2, "raise _NotFastError")
            if name in self._repeated_text and write is write_string:
                memo = self._constant("m", {})
                for line in _MEMO_LINES:
                    self._emit(1 + (len(line) - len(line.lstrip())) // 4, line.format(memo).strip())
            else:
                self._value(1, field_type, write)
            return
        if name == self._now_field:  # missing: the writer's own ``now``, an int it trusts
            self._emit(1, f"v = get({name!r})")
            self._emit(1, "if v is None:")
            self._emit(2, "v = now")
            lines, self._timestamp_lines = self._timestamp_lines, _TIMESTAMP_LINES
            self._value(2, field_type, write, name)
            self._timestamp_lines = lines
            self._emit(1, "else:")
            self._value(2, field_type, write, name)
            return
        if optional and "default" in field and field["default"] is None:
            self._emit(1, f"v = get({name!r})")  # missing reads as None: the default's bytes
        else:
            self._emit(1, f"v = get({name!r}, _MISSING)")
            if default is not None:
                self._emit(1, "if v is _MISSING:")
                self._emit(2, f"out += {self._constant('d', default)}")
                self._emit(1, "else:")
                self._value(2, field_type, write, name)
                return
        self._value(1, field_type, write, name)

    def selected_union(
        self, name: str, by_field: str, branches: dict[str, tuple[bytes, Write]]
    ) -> None:
        self._names.append(name)
        table = self._constant("b", branches)
        self._emit(1, f"branch = {table}.get(get({by_field!r}))")
        self._emit(1, "if branch is None:")
        self._emit(2, "raise _NotFastError")
        self._emit(1, "out += branch[0]")
        self._emit(1, f"branch[1](out, get({name!r}, _MISSING))")

    def build(self) -> Write:
        names = self._constant("names", frozenset(self._names))
        head = [
            "def write(out, value, now=None):",
            "    if type(value) is not dict and not isinstance(value, Mapping):",
            "        raise _NotFastError",
            f"    if not value.keys() <= {names}:  # unknown fields: the codec names them",
            "        raise _NotFastError",
            "    get = value.get",
        ]
        tail = []
        if self._max_lead is not None:
            later, earlier, micros = self._max_lead
            head += [f"    t_{later} = t_{earlier} = None"]
            tail = [
                f"    if t_{later} is not None and t_{earlier} is not None "
                f"and t_{later} - t_{earlier} > {int(micros)}:",
                "        raise _NotFastError",
            ]
        source = "\n".join([*head, *self._lines, *tail, ""])
        namespace = dict(self._constants)
        exec(compile(source, f"<avro writer of {self._name}>", "exec"), namespace)  # noqa: S102
        write: Write = namespace["write"]
        return write

    def _value(self, depth: int, field_type: Any, write: Write, name: str = "") -> None:
        """Lines writing ``v`` (present in the record) of ``field_type``."""
        inline = _inline_kind(field_type)
        if inline is None:
            self._emit(depth, f"{self._constant('w', write)}(out, v)")
            return
        if _null_first(field_type):
            self._emit(depth, "if v is None:")
            self._emit(depth + 1, "out.append(0)")
            self._emit(depth, "else:")
            self._emit(depth + 1, "out.append(2)")
            depth += 1
        inline_lines: dict[Write, tuple[str, ...]] = {
            write_string: _STRING_LINES,
            write_timestamp_micros: self._timestamp_lines,
            write_double: _DOUBLE_LINES,
            write_int: _INT_LINES,
            write_long: _LONG_LINES,
        }
        lines = inline_lines[inline]
        for line in lines:
            self._emit(depth + (len(line) - len(line.lstrip())) // 4, line.strip())
        if inline is write_timestamp_micros and self._max_lead and name in self._max_lead[:2]:
            self._emit(depth, f"t_{name} = v")

    def _constant(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self._constants)}"
        self._constants[name] = value
        return name

    def _emit(self, depth: int, line: str) -> None:
        self._lines.append("    " * depth + line)


_STRING_LINES = (
    "if type(v) is not str:",
    "    raise _NotFastError",
    "data = v.encode()",
    "size = len(data)",
    "if size < 64:",
    "    out += _SMALL[size]",
    "else:",
    "    _varint(out, size)",
    "out += data",
)
_MEMO_LINES = (
    "if type(v) is not str:",
    "    raise _NotFastError",
    "data = {0}.get(v)",
    "if data is None:",
    "    encoded = v.encode()",
    "    data = _zigzag(len(encoded)) + encoded",
    "    if len({0}) < MEMO_SIZE:",
    "        {0}[v] = data",
    "out += data",
)
_DOUBLE_LINES = (
    "if type(v) is not float:",
    "    raise _NotFastError",
    "out += _pack_double(v)",
)
_INT_LINES = (
    "if type(v) is not int or not _INT_MIN <= v <= _INT_MAX:",
    "    raise _NotFastError",
    "if 0 <= v < 64:",
    "    out += _SMALL[v]",
    "else:",
    "    _varint(out, v)",
)
_LONG_LINES = (
    "if type(v) is not int or not _LONG_MIN <= v <= _LONG_MAX:",
    "    raise _NotFastError",
    "if 0 <= v < 64:",
    "    out += _SMALL[v]",
    "else:",
    "    _varint(out, v)",
)
_TIMESTAMP_CHECK_LINES = (
    "if type(v) is datetime:",
    "    if v.tzinfo is None:",
    "        raise _NotFastError",
    "    delta = v - EPOCH",
    "    v = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds",
    "elif type(v) is not int or not _LONG_MIN <= v <= _LONG_MAX:",
    "    raise _NotFastError",
)
_TIMESTAMP_WRITE_LINES = (
    "zigzag = (v << 1) ^ (v >> 63)",
    "if 1 << 49 <= zigzag < 1 << 56:  # 8 bytes (this century), as _varint writes them",
    "    out += _PAIRS[zigzag & 0x3FFF]",
    "    out += _PAIRS[zigzag >> 14 & 0x3FFF]",
    "    out += _PAIRS[zigzag >> 28 & 0x3FFF]",
    "    out += _PAIRS[zigzag >> 42]",
    "    out[-1] &= 0x7F",
    "else:",
    "    _varint(out, v)",
)
_TIMESTAMP_LINES = _TIMESTAMP_CHECK_LINES + _TIMESTAMP_WRITE_LINES
#: Timestamps given as aware datetimes only (ints are the codec path's to judge).
_DATETIME_LINES = (
    "if type(v) is not datetime or v.tzinfo is None:",
    "    raise _NotFastError",
    "delta = v - EPOCH",
    "v = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds",
    *_TIMESTAMP_WRITE_LINES,
)


def _null_first(field_type: Any) -> bool:
    return isinstance(field_type, list) and len(field_type) == 2 and field_type[0] == "null"


#: Primitive types written inline by a compiled record (the writer standing for their lines).
_INLINE = {"string": write_string, "double": write_double, "int": write_int, "long": write_long}


def _inline_kind(field_type: Any) -> Write | None:
    """The writer whose lines a compiled record writes inline for a field of this type."""
    inner = field_type[1] if _null_first(field_type) else field_type
    if isinstance(inner, dict) and len(inner) == 1:
        inner = inner["type"]
    if isinstance(inner, str):
        return _INLINE.get(inner)
    if isinstance(inner, dict) and inner == {"type": "long", "logicalType": "timestamp-micros"}:
        return write_timestamp_micros
    return None


def _default_bytes(field: Mapping[str, Any], write: Write) -> bytes | None:
    """The bytes of a field's default (written when the record lacks the field), or None."""
    if "default" not in field:
        return None
    default = field["default"]
    if isinstance(field["type"], list):  # a union's default is of its first branch
        return SMALL[0] if field["type"][0] == "null" and default is None else None
    out = bytearray()
    try:
        write(out, default)
    except NotFastError:
        return None  # e.g. a timestamp default given as a string: the codec handles it
    return bytes(out)
