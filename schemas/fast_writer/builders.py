"""The fast writer itself: :class:`FastWriter` compiles one schema version, and the writers
the codecs' hot paths use are built from it (:func:`activity_writer`, :func:`fast_encoder`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas import wire
from schemas.fast_writer.primitives import (
    PRIMITIVES,
    SMALL,
    NotFastError,
    Write,
    array_writer,
    enum_writer,
    map_writer,
    refuse,
    write_timestamp_micros,
    zigzag,
)
from schemas.fast_writer.templates import RecordChecks, RecordSource
from schemas.subject_codec import REQUIRED_TEXT, ActivityCodec, SubjectCodec

#: No checks beyond the schema.
TOP_LEVEL_NONE = RecordChecks()


class FastWriter:
    """Single-object Avro bytes of records of one version, or None (see :mod:`schemas.fast_writer`).

    ``fingerprint`` is the version's 8-byte fingerprint (the frame header), unless ``header``
    gives other bytes to put before each body (the Confluent ``00`` + schema id). ``checks``
    (:class:`~schemas.fast_writer.templates.RecordChecks`) apply to top-level fields:
    ``required_text`` names string fields that must not be empty (the codec's
    ``REQUIRED_TEXT``); the bytes of ``repeated_text`` fields (required strings with few values,
    such as ``type`` and ``source``) are remembered, up to
    :data:`~schemas.fast_writer.primitives.MEMO_SIZE` values each. ``union_by`` handles a union
    of records whose branch is named by another field, as activity events do:
    ``("payload", "type", {event type: branch record full name})``.

    Three checks serve producers that hand over the caller's own mapping, uncopied:
    ``now_field`` names a top-level timestamp written as the ``now`` given to :meth:`encode`
    when the record lacks it (``received_at``); ``max_lead`` = ``(later, earlier, micros)``
    refuses a record whose ``later`` timestamp lies more than ``micros`` after ``earlier``
    (the codec path then names the field); ``datetimes_only`` refuses timestamps given as
    integers, as the codec path does for the JSON form of records.

    Records are compiled to straight-line Python (one function per record type, see
    :class:`~schemas.fast_writer.templates.RecordSource`): a loop over field descriptions costs
    about twice as much, and fastavro three times, for an event of ten fields.
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        fingerprint: bytes,
        *,
        checks: RecordChecks = TOP_LEVEL_NONE,
        union_by: tuple[str, str, Mapping[str, str]] | None = None,
        header: bytes | None = None,
    ) -> None:
        self._header = wire.header(fingerprint) if header is None else header
        self._checks = checks
        self._named: dict[str, Mapping[str, Any]] = {}
        self._union_by = union_by
        #: Compiled with an extra ``now`` argument (see RecordSource.build).
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
        except (NotFastError, UnicodeEncodeError):
            return None
        return bytes(out)

    # --- compilation -------------------------------------------------------------------

    def _compile(self, schema: Any, namespace: str) -> Write:
        if isinstance(schema, str):
            named = self._named.get(schema) or self._named.get(f"{namespace}.{schema}")
            if named is not None:
                return self._compile(named, namespace)
            return PRIMITIVES.get(schema, refuse)
        if isinstance(schema, list):
            return self._optional(schema, namespace)
        return self._compile_complex(schema, namespace)

    def _compile_complex(self, schema: Mapping[str, Any], namespace: str) -> Write:
        kind = schema["type"]
        if schema.get("logicalType") == "timestamp-micros" and kind == "long":
            return write_timestamp_micros
        if kind == "record":
            return self._record(schema, namespace)
        if kind in ("array", "map"):  # a container of items or values
            contained = self._compile(schema["items" if kind == "array" else "values"], namespace)
            return array_writer(contained) if kind == "array" else map_writer(contained)
        if kind == "enum":
            return enum_writer(schema["symbols"])
        if isinstance(kind, str) and kind in PRIMITIVES and len(schema) == 1:
            return PRIMITIVES[kind]
        return refuse  # fixed, other logical types: the codec writes them

    def _optional(self, branches: list[Any], namespace: str) -> Write:
        """``["null", T]`` or ``[T, "null"]``; any other union is left to the codec."""
        if len(branches) != 2 or "null" not in branches:
            return refuse
        null_index = branches.index("null")
        write = self._compile(branches[1 - null_index], namespace)
        null_byte, value_byte = SMALL[null_index], SMALL[1 - null_index]

        def optional(out: bytearray, value: Any) -> None:
            if value is None:
                out += null_byte
            else:
                out += value_byte
                write(out, value)

        return optional

    def _record(self, schema: Mapping[str, Any], namespace: str, *, top: bool = False) -> Write:
        full_name = _full_name(schema, namespace)
        self._named[full_name] = schema
        inner = full_name.rpartition(".")[0]
        source = RecordSource(full_name, self._checks if top else self._checks.nested())
        for field in schema["fields"]:
            name = field["name"]
            if top and self._union_by is not None and name == self._union_by[0]:
                source.selected_union(name, self._union_by[1], self._branches(field["type"], inner))
            else:
                source.field(field, self._compile(field["type"], inner))
        return source.build()

    def _branches(self, union: list[Any], namespace: str) -> dict[str, tuple[bytes, Write]]:
        """``{selector value: (union index bytes, branch writer)}`` of a union of records."""
        assert self._union_by is not None
        index_of: dict[str, tuple[int, Write]] = {}
        for index, branch in enumerate(union):
            if isinstance(branch, dict) and branch.get("type") == "record":
                index_of[_full_name(branch, namespace)] = (index, self._record(branch, namespace))
        found: dict[str, tuple[bytes, Write]] = {}
        for key, branch_name in self._union_by[2].items():
            if branch_name in index_of:
                index, write = index_of[branch_name]
                found[key] = (zigzag(index), write)
        return found


def _full_name(schema: Mapping[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def activity_writer(codec: ActivityCodec, *, max_future_skew_us: int | None = None) -> FastWriter:
    """The fast writer of ``codec``'s version of activity events (``type`` picks the payload),
    framed as ``codec`` frames (its :attr:`~SubjectCodec.header`).

    With ``max_future_skew_us`` it is the producers' writer of the caller's own mapping: a
    missing ``received_at`` is written as the ``now`` given to ``encode``, timestamps must be
    datetimes, and an ``occurred_at`` more than that far after ``received_at`` is refused.
    """
    producer = max_future_skew_us is not None
    max_lead = (
        None if max_future_skew_us is None else ("occurred_at", "received_at", max_future_skew_us)
    )
    checks = RecordChecks(
        required_text=frozenset(REQUIRED_TEXT[codec.subject]),
        repeated_text=frozenset({"type", "source"}),
        now_field="received_at" if producer else None,
        max_lead=max_lead,
        datetimes_only=producer,
    )
    return FastWriter(
        codec.reader.schema,
        codec.reader.fingerprint,
        checks=checks,
        union_by=("payload", "type", codec.branch_by_type),
        header=codec.header,
    )


def fast_encoder(codec: SubjectCodec) -> Callable[[Mapping[str, Any]], bytes]:
    """``codec.encode`` with a :class:`FastWriter` of its version in front (for hot paths that
    write one subject, such as the worker's engagement records): the same bytes, the same
    errors."""
    writer = FastWriter(
        codec.reader.schema,
        codec.reader.fingerprint,
        checks=RecordChecks(required_text=frozenset(REQUIRED_TEXT.get(codec.subject, ()))),
        header=codec.header,
    )
    fast, checked = writer.encode, codec.encode

    def encode(record: Mapping[str, Any]) -> bytes:
        return fast(record) or checked(record)

    return encode
