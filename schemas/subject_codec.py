"""Encoder/decoder bound to one subject: the hot path of producers and stream workers.

Records are plain dicts in Avro's shape (datetimes timezone-aware UTC). Avro checks the types;
on top of that the codec does only cheap contract checks, on both encode and decode:

* required ids and names are non-empty (Avro happily stores ``""``),
* no naive datetime is encoded (fastavro would read it as local time),
* unknown keys are refused on encode (fastavro would drop them silently),
* for activity events, ``type`` matches the payload's record (see :class:`ActivityCodec`).

Full validation (time zones, locales, URLs, ...) lives in the pydantic models, used at the edges.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any, Self

import fastavro
from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from schemas import wire
from schemas.catalog import Catalog, SchemaVersion
from schemas.datum import find_problem, format_path
from schemas.errors import (
    CorruptPayloadError,
    SchemaError,
    UnknownSchemaError,
    ValidationError,
    WrongSubjectError,
)
from schemas.wire_values import ValueConverter, WireValueError, strip_timestamp_micros

#: String fields that must not be empty, per subject; the first one names the record in errors.
REQUIRED_TEXT: dict[str, tuple[str, ...]] = {
    "activity_event": ("event_id", "type", "candidate_id", "source"),
    "candidate_profile": ("candidate_id", "source"),
    "erasure_request": ("request_id", "candidate_id", "source"),
    "engagement_record": (
        "last_event_id", "candidate_id", "tier", "model_version", "last_event_type",
    ),
    "nurture_action": (
        "action_id", "candidate_id", "campaign_id", "step_id", "channel", "trigger_event_id",
        "model_version",
    ),
    "delivery_outcome": ("action_id", "candidate_id", "campaign_id", "channel", "outcome"),
    "candidate_suppression": ("candidate_id",),
}  # fmt: skip

_WRITE_ERRORS = (TypeError, ValueError, AttributeError, KeyError, OverflowError)
_READ_ERRORS = (
    EOFError, ValueError, IndexError, KeyError, TypeError, OverflowError, UnicodeDecodeError,
    MemoryError,
)  # fmt: skip


class SubjectCodec:
    """Single-object Avro encoder and decoder for one subject.

    ``encode`` writes the subject's current version (or ``reader_version`` when pinned, to stage
    a roll-out). ``decode`` reads any version of the subject and resolves it to that version.
    """

    #: Read unions of records as ``(name, value)``; subclasses that need branch names turn it on.
    _record_names: bool = False

    def __init__(self, catalog: Catalog, subject: str, *, reader_version: int | None = None):
        versions = catalog.subject(subject)
        self.subject = subject
        #: The version records are written in and resolved to.
        self.reader = versions.version(reader_version or len(versions.versions))
        self._header = wire.header(self.reader.fingerprint)
        self._required_text = REQUIRED_TEXT.get(subject, ())
        self._catalog = catalog
        self._mine = {v.fingerprint: v for v in versions.versions}
        # fastavro gets the schemas without timestamp-micros; self._values converts them.
        self._wire_schemas = {
            v.fingerprint: fastavro.parse_schema(strip_timestamp_micros(v.schema))
            for v in versions.versions
        }
        self._schema = self._wire_schemas[self.reader.fingerprint]
        self._values = ValueConverter(self.reader.schema)
        if self._values.needs_record_names and not self._record_names:
            raise TypeError(f"{type(self).__name__} must read {subject} with record names")

    @property
    def header(self) -> bytes:
        """The bytes :meth:`encode` puts before the Avro body (the single-object header of the
        reader version unless :meth:`reframed`)."""
        return self._header

    def reframed(self, header: bytes) -> Self:
        """This codec writing ``header`` instead of the single-object one before each body (the
        Confluent ``00`` + schema id, :mod:`schemas.schema_registry.framing`); the bodies are
        the same bytes. Decoding is unchanged: callers that read Confluent frames go through
        :meth:`decode_body` with the writer the schema id names."""
        framed = copy.copy(self)
        framed._header = header
        return framed

    def accept_writer(self, writer: SchemaVersion) -> None:
        """Let :meth:`decode_body` read data of ``writer``, a schema of this subject that is not
        in the catalog (one a schema registry holds, e.g. registered by another producer), by
        resolving it to this codec's version. Not used for single-object frames."""
        if writer.fingerprint not in self._wire_schemas:
            self._wire_schemas[writer.fingerprint] = fastavro.parse_schema(
                strip_timestamp_micros(writer.schema)
            )

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Avro single-object bytes of ``record``; :class:`ValidationError` naming the field."""
        self._check_text(record)
        prepared = self._prepare(record)
        try:
            wire_record = self._values.to_wire(prepared)
        except WireValueError as exc:
            path = format_path(exc.path)
            raise ValidationError(path, exc.reason, event_id=self._record_id(record)) from None
        buffer = BytesIO()
        buffer.write(self._header)
        try:
            schemaless_writer(buffer, self._schema, wire_record, strict_allow_default=True)
        except _WRITE_ERRORS as exc:
            problem = find_problem(self.reader.schema, prepared) or ("(record)", str(exc))
            raise ValidationError(*problem, event_id=self._record_id(record)) from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in ``data``, resolved to this codec's version.

        Raises :class:`CorruptPayloadError` (not a frame, truncated, garbage),
        :class:`UnknownSchemaError` (fingerprint not in the registry), :class:`WrongSubjectError`
        (a record of another subject) or :class:`ValidationError` (contract broken).
        """
        fingerprint = wire.read_fingerprint(data)
        writer = self._mine.get(fingerprint)
        if writer is None:
            other = self._catalog.by_fingerprint.get(fingerprint)
            if other is None:
                raise UnknownSchemaError(fingerprint)
            raise WrongSubjectError(self.subject, other.subject, other.version)
        return self.decode_body(writer, data)

    def decode_body(
        self, writer: SchemaVersion, data: bytes, offset: int = wire.HEADER_SIZE
    ) -> dict[str, Any]:
        """Decode a frame whose header (``offset`` bytes: single-object by default) is already
        known to name ``writer``."""
        buffer = BytesIO(data)
        buffer.seek(offset)
        reader_schema = None if writer is self.reader else self._schema
        try:
            record: Any = schemaless_reader(
                buffer,
                self._wire_schemas[writer.fingerprint],
                reader_schema,
                return_record_name=self._record_names,
            )
            record = self._values.from_wire(record)  # OverflowError: out of datetime range
        except SchemaResolutionError as exc:
            raise SchemaError(
                f"{self.subject} v{writer.version} data cannot be read as v{self.reader.version}: "
                f"{exc}"
            ) from exc
        except _READ_ERRORS as exc:
            raise CorruptPayloadError(
                f"{self.subject} v{writer.version} payload of {len(data)} bytes does not decode "
                f"({type(exc).__name__}: {exc}); truncated or corrupt?"
            ) from exc
        unread = len(data) - buffer.tell()
        if unread:
            raise CorruptPayloadError(
                f"{self.subject} v{writer.version} payload has {unread} bytes after the record"
            )
        result: dict[str, Any] = self._finish(record)
        self._check_text(result)
        return result

    def _prepare(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The record as fastavro should write it (subclasses pick union branches here)."""
        return record

    def _finish(self, record: dict[str, Any]) -> dict[str, Any]:
        """The decoded record as callers get it (subclasses unwrap union branches here)."""
        return record

    def _check_text(self, record: Mapping[str, Any]) -> None:
        for name in self._required_text:
            if not record.get(name):
                raise ValidationError(
                    name, "must be a non-empty string", event_id=self._record_id(record)
                )

    def _record_id(self, record: Mapping[str, Any]) -> str | None:
        if not self._required_text:
            return None
        value = record.get(self._required_text[0])
        return value if isinstance(value, str) and value else None


class ActivityCodec(SubjectCodec):
    """Codec of activity events: ``type`` picks the payload's union branch.

    Several payload records have the same shape (e.g. EmailOpened and EmailReplied), so fastavro
    must not guess the branch: the codec writes the branch whose ``event_type`` property (in the
    .avsc) equals ``type``, and on decode checks that the branch read matches ``type``.
    """

    _record_names = True

    def __init__(self, catalog: Catalog, subject: str, *, reader_version: int | None = None):
        super().__init__(catalog, subject, reader_version=reader_version)
        payload = next(f for f in self.reader.schema["fields"] if f["name"] == "payload")
        namespace = self.reader.schema.get("namespace", "")
        #: Avro full name of the payload record of each event type.
        self.branch_by_type: dict[str, str] = {
            branch["event_type"]: f"{branch.get('namespace', namespace)}.{branch['name']}"
            for branch in payload["type"]
        }
        self._type_by_branch = {name: kind for kind, name in self.branch_by_type.items()}

    def micros_decoder(self) -> Callable[[bytes], dict[str, Any]]:
        """:meth:`decode` with ``occurred_at`` and ``received_at`` left as epoch microseconds.

        For the stream worker, which scores in microseconds: two datetimes per event made and
        taken apart again cost about a microsecond. Payload timestamps are datetimes as usual.
        """
        return self.micros_codec().decode

    def micros_codec(self) -> ActivityCodec:
        """A copy of this codec whose decoding leaves ``occurred_at`` and ``received_at`` as
        epoch microseconds (:meth:`micros_decoder`), for decoders of both framings to wrap."""
        schema = copy.deepcopy(self.reader.schema)
        for field in schema["fields"]:
            if field["name"] in ("occurred_at", "received_at"):
                field["type"] = strip_timestamp_micros(field["type"])
        decoder = copy.copy(self)
        decoder._values = ValueConverter(schema)
        return decoder

    @property
    def event_types(self) -> tuple[str, ...]:
        """Every event type the reader schema knows, in union order."""
        return tuple(self.branch_by_type)

    def _prepare(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        kind = record.get("type")
        branch = self.branch_by_type.get(kind) if isinstance(kind, str) else None
        if branch is None:
            raise ValidationError(
                "type",
                f"unknown event type {kind!r}; known: {', '.join(self.branch_by_type)}",
                event_id=self._record_id(record),
            )
        prepared = dict(record)
        prepared["payload"] = (branch, record.get("payload"))
        return prepared

    def _finish(self, record: dict[str, Any]) -> dict[str, Any]:
        branch, payload = record["payload"]
        expected = self._type_by_branch.get(branch)
        if record["type"] != expected:
            raise ValidationError(
                "type",
                f"{record['type']!r} does not match the payload record {branch} "
                f"(which is for {expected!r})",
                event_id=self._record_id(record),
            )
        record["payload"] = payload
        return record
