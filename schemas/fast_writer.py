"""A compiled Avro writer for the common case of a record: the producers' fast path.

fastavro's ``schemaless_writer`` costs ~7 µs for a small activity event, most of it spent
checking union branches one by one against the value (``["null", "string"]`` fields) and
copying the record for the timestamp conversion. :class:`FastWriter` compiles one schema into
closures that check and write each field in one pass, straight to single-object bytes.

It is a *conservative* fast path, never the judge: :meth:`FastWriter.encode` returns None for
anything it is not certain about (a wrong type, a naive datetime, an unknown field, an empty
required id, an ``int`` beyond 32 bits, a type it does not compile such as fixed or general
unions), and the caller then asks the full codec (:class:`schemas.subject_codec.SubjectCodec`),
which either encodes the record after all or raises the :class:`~schemas.errors.ValidationError`
naming the field. What it does encode is byte-for-byte what the codec writes (tested against it
in ``tests/test_producers_fast_writer.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sized
from datetime import datetime
from typing import Any

from schemas import wire
from schemas.subject_codec import REQUIRED_TEXT, ActivityCodec, SubjectCodec
from schemas.timestamps import EPOCH

_Write = Callable[[bytearray, Any], None]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
#: zigzag varints of 0..63 (string lengths, union indexes, array counts): one byte each.
_SMALL = [bytes((2 * n,)) for n in range(64)]
_MISSING = object()
#: Most remembered values of each ``repeated_text`` field.
MEMO_SIZE = 256


class _NotFastError(Exception):
    """The value is not one the fast path writes: the full codec decides."""


#: Two varint bytes (both with the continuation bit) of every 14-bit group pair.
_PAIRS = [bytes(((pair & 0x7F) | 0x80, (pair >> 7) | 0x80)) for pair in range(1 << 14)]


def _varint(out: bytearray, value: int) -> None:
    """Avro's zigzag varint of a long (the caller checked the 64-bit range)."""
    value = (value << 1) ^ (value >> 63)
    if 1 << 49 <= value < 1 << 56:  # 8 bytes: every timestamp of this century, 2 at a time
        out += _PAIRS[value & 0x3FFF]
        out += _PAIRS[value >> 14 & 0x3FFF]
        out += _PAIRS[value >> 28 & 0x3FFF]
        out += _PAIRS[value >> 42]
        out[-1] &= 0x7F  # the last byte ends the varint
        return
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _refuse(out: bytearray, value: Any) -> None:
    raise _NotFastError


def _null(out: bytearray, value: Any) -> None:
    if value is not None:
        raise _NotFastError


def _string(out: bytearray, value: Any) -> None:
    if type(value) is not str:
        raise _NotFastError
    data = value.encode()  # UnicodeEncodeError (lone surrogates) is refused by encode()
    size = len(data)
    if size < 64:
        out += _SMALL[size]
    else:
        _varint(out, size)
    out += data


def _bytes(out: bytearray, value: Any) -> None:
    if type(value) is not bytes:
        raise _NotFastError
    _varint(out, len(value))
    out += value


def _boolean(out: bytearray, value: Any) -> None:
    if type(value) is not bool:
        raise _NotFastError
    out.append(1 if value else 0)


def _int(out: bytearray, value: Any) -> None:
    if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
        raise _NotFastError
    _varint(out, value)


def _long(out: bytearray, value: Any) -> None:
    if type(value) is not int or not _LONG_MIN <= value <= _LONG_MAX:
        raise _NotFastError
    _varint(out, value)


_pack_double = struct.Struct("<d").pack


def _double(out: bytearray, value: Any) -> None:
    if type(value) is not float:
        raise _NotFastError
    out += _pack_double(value)


def _timestamp_micros(out: bytearray, value: Any) -> None:
    """An aware datetime (or its microseconds since the epoch) as a long."""
    if type(value) is datetime:
        if value.tzinfo is None:
            raise _NotFastError
        delta = value - EPOCH
        value = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    _long(out, value)


_PRIMITIVES: dict[str, _Write] = {
    "null": _null,
    "string": _string,
    "bytes": _bytes,
    "boolean": _boolean,
    "int": _int,
    "long": _long,
    "double": _double,
}


class FastWriter:
    """Single-object Avro bytes of records of one schema version, or None (see module doc).

    ``fingerprint`` is the version's 8-byte fingerprint (the frame header). ``required_text``
    names top-level string fields that must not be empty (the codec's ``REQUIRED_TEXT``).
    ``union_by`` handles a union of records whose branch is named by another field, as activity
    events do: ``("payload", "type", {event type: branch record full name})``. The bytes of
    ``repeated_text`` fields (required top-level strings with few values, such as ``type`` and
    ``source``) are remembered, up to :data:`MEMO_SIZE` values each.

    Three options serve producers that hand over the caller's own mapping, uncopied:
    ``now_field`` names a top-level timestamp written as the ``now`` given to :meth:`encode`
    when the record lacks it (``received_at``); ``max_lead`` = ``(later, earlier, micros)``
    refuses a record whose ``later`` timestamp lies more than ``micros`` after ``earlier``
    (the codec path then names the field); ``datetimes_only`` refuses timestamps given as
    integers, as the codec path does for the JSON form of records.

    Records are compiled to straight-line Python (one function per record type, see
    :class:`_RecordSource`): a loop over field descriptions costs about twice as much, and
    fastavro three times, for an event of ten fields.
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        fingerprint: bytes,
        *,
        required_text: tuple[str, ...] = (),
        union_by: tuple[str, str, Mapping[str, str]] | None = None,
        repeated_text: frozenset[str] = frozenset(),
        now_field: str | None = None,
        max_lead: tuple[str, str, int] | None = None,
        datetimes_only: bool = False,
    ) -> None:
        self._header = wire.header(fingerprint)
        self._now_field = now_field
        self._max_lead = max_lead
        self._datetimes_only = datetimes_only
        self._repeated_text = repeated_text
        self._required_text = required_text
        self._named: dict[str, Mapping[str, Any]] = {}
        self._union_by = union_by
        #: Compiled with an extra ``now`` argument (see _RecordSource.build).
        self._write_record: Callable[..., None] = self._record(
            schema, str(schema.get("namespace", "")), top=True
        )

    def encode(self, record: Mapping[str, Any], now: int | None = None) -> bytes | None:
        """The frame of ``record``, or None when the full codec must decide.

        ``now`` (microseconds since the epoch) is written for a missing ``now_field``.
        """
        out = bytearray(self._header)
        try:
            self._write_record(out, record, now)
        except (_NotFastError, UnicodeEncodeError):
            return None
        return bytes(out)

    # --- compilation -------------------------------------------------------------------

    def _compile(self, schema: Any, namespace: str) -> _Write:
        if isinstance(schema, str):
            named = self._named.get(schema) or self._named.get(f"{namespace}.{schema}")
            if named is not None:
                return self._compile(named, namespace)
            return _PRIMITIVES.get(schema, _refuse)
        if isinstance(schema, list):
            return self._optional(schema, namespace)
        return self._compile_complex(schema, namespace)

    def _compile_complex(self, schema: Mapping[str, Any], namespace: str) -> _Write:
        kind = schema["type"]
        if schema.get("logicalType") == "timestamp-micros" and kind == "long":
            return _timestamp_micros
        if kind == "record":
            return self._record(schema, namespace)
        if kind in ("array", "map"):  # a container of items or values
            contained = self._compile(schema["items" if kind == "array" else "values"], namespace)
            return _array(contained) if kind == "array" else _map(contained)
        if kind == "enum":
            return _enum(schema["symbols"])
        if isinstance(kind, str) and kind in _PRIMITIVES and len(schema) == 1:
            return _PRIMITIVES[kind]
        return _refuse  # fixed, other logical types: the codec writes them

    def _optional(self, branches: list[Any], namespace: str) -> _Write:
        """``["null", T]`` or ``[T, "null"]``; any other union is left to the codec."""
        if len(branches) != 2 or "null" not in branches:
            return _refuse
        null_index = branches.index("null")
        write = self._compile(branches[1 - null_index], namespace)
        null_byte, value_byte = _SMALL[null_index], _SMALL[1 - null_index]

        def optional(out: bytearray, value: Any) -> None:
            if value is None:
                out += null_byte
            else:
                out += value_byte
                write(out, value)

        return optional

    def _record(self, schema: Mapping[str, Any], namespace: str, *, top: bool = False) -> _Write:
        full_name = _full_name(schema, namespace)
        self._named[full_name] = schema
        inner = full_name.rpartition(".")[0]
        source = _RecordSource(
            full_name,
            repeated_text=self._repeated_text if top else frozenset(),
            required_text=frozenset(self._required_text if top else ()),
            now_field=self._now_field if top else None,
            max_lead=self._max_lead if top else None,
            datetimes_only=self._datetimes_only,
        )
        for field in schema["fields"]:
            name = field["name"]
            if top and self._union_by is not None and name == self._union_by[0]:
                source.selected_union(name, self._union_by[1], self._branches(field["type"], inner))
            else:
                source.field(field, self._compile(field["type"], inner))
        return source.build()

    def _branches(self, union: list[Any], namespace: str) -> dict[str, tuple[bytes, _Write]]:
        """``{selector value: (union index bytes, branch writer)}`` of a union of records."""
        assert self._union_by is not None
        index_of: dict[str, tuple[int, _Write]] = {}
        for index, branch in enumerate(union):
            if isinstance(branch, dict) and branch.get("type") == "record":
                index_of[_full_name(branch, namespace)] = (index, self._record(branch, namespace))
        found: dict[str, tuple[bytes, _Write]] = {}
        for key, branch_name in self._union_by[2].items():
            if branch_name in index_of:
                index, write = index_of[branch_name]
                found[key] = (_zigzag(index), write)
        return found


class _RecordSource:
    """Writes the source of one record's writer function, field by field, then compiles it.

    Strings and timestamps (plain or ``["null", T]``), most fields of the contract, are written
    inline; any other field calls its compiled closure (``w<N>``). A field missing from the
    record gets its default's bytes (``d<N>``) or refuses the record, like fastavro's
    ``strict_allow_default``.
    """

    def __init__(
        self,
        name: str,
        *,
        repeated_text: frozenset[str],
        required_text: frozenset[str],
        now_field: str | None = None,
        max_lead: tuple[str, str, int] | None = None,
        datetimes_only: bool = False,
    ) -> None:
        self._name = name
        self._repeated_text = repeated_text
        self._required_text = required_text
        self._now_field = now_field
        self._max_lead = max_lead
        self._timestamp_lines = _DATETIME_LINES if datetimes_only else _TIMESTAMP_LINES
        self._names: list[str] = []
        self._lines: list[str] = []
        self._constants: dict[str, Any] = {
            "Mapping": Mapping, "datetime": datetime, "EPOCH": EPOCH, "_MISSING": _MISSING,
            "_NotFastError": _NotFastError, "_SMALL": _SMALL, "_varint": _varint, "_long": _long,
            "_zigzag": _zigzag, "MEMO_SIZE": MEMO_SIZE, "_PAIRS": _PAIRS,
            "_LONG_MIN": _LONG_MIN, "_LONG_MAX": _LONG_MAX, "_INT_MIN": _INT_MIN,
            "_INT_MAX": _INT_MAX, "_pack_double": _pack_double,
        }  # fmt: skip

    def field(self, field: Mapping[str, Any], write: _Write) -> None:
        name, field_type = field["name"], field["type"]
        self._names.append(name)
        default = _default_bytes(field, write)
        optional = _null_first(field_type)
        if name in self._required_text:  # missing or empty: the codec refuses it
            self._emit(1, f"v = get({name!r})")
            self._emit(1, "if not v:")
            self._emit(2, "raise _NotFastError")
            if name in self._repeated_text and write is _string:
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
        self, name: str, by_field: str, branches: dict[str, tuple[bytes, _Write]]
    ) -> None:
        self._names.append(name)
        table = self._constant("b", branches)
        self._emit(1, f"branch = {table}.get(get({by_field!r}))")
        self._emit(1, "if branch is None:")
        self._emit(2, "raise _NotFastError")
        self._emit(1, "out += branch[0]")
        self._emit(1, f"branch[1](out, get({name!r}, _MISSING))")

    def build(self) -> _Write:
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
        write: _Write = namespace["write"]
        return write

    def _value(self, depth: int, field_type: Any, write: _Write, name: str = "") -> None:
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
        inline_lines: dict[_Write, tuple[str, ...]] = {
            _string: _STRING_LINES,
            _timestamp_micros: self._timestamp_lines,
            _double: _DOUBLE_LINES,
            _int: _INT_LINES,
            _long: _LONG_LINES,
        }
        lines = inline_lines[inline]
        for line in lines:
            self._emit(depth + (len(line) - len(line.lstrip())) // 4, line.strip())
        if inline is _timestamp_micros and self._max_lead and name in self._max_lead[:2]:
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
_INLINE = {"string": _string, "double": _double, "int": _int, "long": _long}


def _inline_kind(field_type: Any) -> _Write | None:
    """The writer whose lines a compiled record writes inline for a field of this type."""
    inner = field_type[1] if _null_first(field_type) else field_type
    if isinstance(inner, dict) and len(inner) == 1:
        inner = inner["type"]
    if isinstance(inner, str):
        return _INLINE.get(inner)
    if isinstance(inner, dict) and inner == {"type": "long", "logicalType": "timestamp-micros"}:
        return _timestamp_micros
    return None


def _default_bytes(field: Mapping[str, Any], write: _Write) -> bytes | None:
    """The bytes of a field's default (written when the record lacks the field), or None."""
    if "default" not in field:
        return None
    default = field["default"]
    if isinstance(field["type"], list):  # a union's default is of its first branch
        return _SMALL[0] if field["type"][0] == "null" and default is None else None
    out = bytearray()
    try:
        write(out, default)
    except _NotFastError:
        return None  # e.g. a timestamp default given as a string: the codec handles it
    return bytes(out)


def _block_count(out: bytearray, value: Any, kind: type[Sized]) -> None:
    """The item count that opens an array's or map's one block (none when it is empty)."""
    if type(value) is not kind:
        raise _NotFastError
    count = len(value)
    if count:
        if count < 64:
            out += _SMALL[count]
        else:
            _varint(out, count)


def _array(write_item: _Write) -> _Write:
    def array(out: bytearray, value: Any) -> None:
        _block_count(out, value, list)
        for item in value:
            write_item(out, item)
        out.append(0)

    return array


def _map(write_value: _Write) -> _Write:
    """A map with string keys, in the mapping's order (as fastavro writes it). The bytes of
    up to :data:`MEMO_SIZE` keys are remembered (maps keyed by a few names, such as event
    types); double values are written inline."""
    memo: dict[str, bytes] = {}

    def key_bytes(key: Any) -> bytes:
        if type(key) is not str:
            raise _NotFastError
        encoded = key.encode()
        data = _zigzag(len(encoded)) + encoded
        if len(memo) < MEMO_SIZE:
            memo[key] = data
        return data

    def avro_map(out: bytearray, value: Any) -> None:
        _block_count(out, value, dict)
        for key, item in value.items():
            out += memo.get(key) or key_bytes(key)
            write_value(out, item)
        out.append(0)

    def map_of_doubles(out: bytearray, value: Any) -> None:
        _block_count(out, value, dict)
        for key, item in value.items():
            out += memo.get(key) or key_bytes(key)
            if type(item) is not float:
                raise _NotFastError
            out += _pack_double(item)
        out.append(0)

    return map_of_doubles if write_value is _double else avro_map


def _enum(symbols: list[str]) -> _Write:
    index = {symbol: _zigzag(i) for i, symbol in enumerate(symbols)}

    def enum(out: bytearray, value: Any) -> None:
        found = index.get(value) if type(value) is str else None
        if found is None:
            raise _NotFastError
        out += found

    return enum


def _zigzag(value: int) -> bytes:
    out = bytearray()
    _varint(out, value)
    return bytes(out)


def _full_name(schema: Mapping[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def activity_writer(codec: ActivityCodec, *, max_future_skew_us: int | None = None) -> FastWriter:
    """The fast writer of ``codec``'s version of activity events (``type`` picks the payload).

    With ``max_future_skew_us`` it is the producers' writer of the caller's own mapping: a
    missing ``received_at`` is written as the ``now`` given to ``encode``, timestamps must be
    datetimes, and an ``occurred_at`` more than that far after ``received_at`` is refused.
    """
    producer = max_future_skew_us is not None
    max_lead = (
        None if max_future_skew_us is None else ("occurred_at", "received_at", max_future_skew_us)
    )
    return FastWriter(
        codec.reader.schema,
        codec.reader.fingerprint,
        required_text=REQUIRED_TEXT[codec.subject],
        union_by=("payload", "type", codec.branch_by_type),
        repeated_text=frozenset({"type", "source"}),
        now_field="received_at" if producer else None,
        max_lead=max_lead,
        datetimes_only=producer,
    )


def fast_encoder(codec: SubjectCodec) -> Callable[[Mapping[str, Any]], bytes]:
    """``codec.encode`` with a :class:`FastWriter` of its version in front (for hot paths that
    write one subject, such as the worker's engagement records): the same bytes, the same
    errors."""
    writer = FastWriter(
        codec.reader.schema,
        codec.reader.fingerprint,
        required_text=REQUIRED_TEXT.get(codec.subject, ()),
    )
    fast, checked = writer.encode, codec.encode

    def encode(record: Mapping[str, Any]) -> bytes:
        return fast(record) or checked(record)

    return encode
