"""The wire codec of the contract: dict records <-> Avro single-object encoded bytes.

Every record on Kafka is framed as ``C3 01`` + the writer schema's 8-byte fingerprint + Avro
binary (see :mod:`schemas.wire`), so a reader always knows which subject and version it holds.
That is how ``candidate.profile`` carries two kinds of record under one key: a profile, or the
erasure marker that replaces it; :func:`decode` tells the caller which one it got.

Hot path: take a :class:`SubjectCodec` once (``activity_codec()``, ``codec_for(subject)``) and
call its ``encode``/``decode``; the module functions below look it up on each call.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from schemas import wire
from schemas.catalog import SUBJECTS, Catalog, default_catalog
from schemas.errors import UnknownSchemaError
from schemas.subject_codec import ActivityCodec, SubjectCodec

__all__ = [
    "SUBJECTS",
    "ActivityCodec",
    "Codec",
    "Decoded",
    "SubjectCodec",
    "activity_codec",
    "codec_for",
    "decode",
    "decode_as",
    "default_codec",
    "encode",
]

_CODEC_CLASSES: dict[str, type[SubjectCodec]] = {"activity_event": ActivityCodec}


class Decoded(NamedTuple):
    """What :func:`decode` found in a frame."""

    #: The subject of the record, e.g. ``candidate_profile`` or ``erasure_request``.
    subject: str
    #: The schema version the *writer* used (the record itself is in the current version's shape).
    version: int
    #: The record as a dict, resolved to the subject's current version.
    record: dict[str, Any]


class Codec:
    """Encoders and decoders of every subject of a catalog.

    ``reader_versions`` pins subjects to an older version (``{"activity_event": 1}``): records
    are then written in it and resolved to it. That is how a consumer stays on v1 while the
    registry already knows v2, and how the tests prove old readers read new data.
    """

    def __init__(self, catalog: Catalog, *, reader_versions: Mapping[str, int] | None = None):
        pins = dict(reader_versions or {})
        unknown = set(pins) - set(catalog.subjects)
        if unknown:
            catalog.subject(sorted(unknown)[0])  # raises SchemaError naming the known subjects
        self.catalog = catalog
        self._codecs: dict[str, SubjectCodec] = {
            name: _CODEC_CLASSES.get(name, SubjectCodec)(
                catalog, name, reader_version=pins.get(name)
            )
            for name in catalog.subjects
        }
        self._by_fingerprint = {
            fingerprint: (self._codecs[version.subject], version)
            for fingerprint, version in catalog.by_fingerprint.items()
        }

    def subject(self, name: str) -> SubjectCodec:
        """The codec of subject ``name``; :class:`SchemaError` for an unknown subject."""
        codec = self._codecs.get(name)
        if codec is None:
            self.catalog.subject(name)  # raises SchemaError naming the known subjects
            raise AssertionError("unreachable")  # pragma: no cover
        return codec

    def encode(self, subject: str, record: Mapping[str, Any]) -> bytes:
        """Single-object Avro bytes of ``record`` in ``subject``'s current version."""
        return self.subject(subject).encode(record)

    def decode(self, data: bytes) -> Decoded:
        """Subject, writer version and record (resolved to the current version) of ``data``."""
        fingerprint = wire.read_fingerprint(data)
        found = self._by_fingerprint.get(fingerprint)
        if found is None:
            raise UnknownSchemaError(fingerprint)
        codec, writer = found
        return Decoded(writer.subject, writer.version, codec.decode_body(writer, data))

    def decode_as(self, subject: str, data: bytes) -> dict[str, Any]:
        """The record in ``data``, which must be of ``subject`` (else WrongSubjectError)."""
        return self.subject(subject).decode(data)


@lru_cache(maxsize=1)
def default_codec() -> Codec:
    """The codec of the registry shipped with the package, built once per process."""
    return Codec(default_catalog())


def codec_for(subject: str) -> SubjectCodec:
    """The default codec of one subject, to keep in a variable on the hot path."""
    return default_codec().subject(subject)


def activity_codec() -> ActivityCodec:
    """The default codec of activity events (typed, for the stream workers)."""
    codec = default_codec().subject("activity_event")
    assert isinstance(codec, ActivityCodec)
    return codec


def encode(subject: str, record: Mapping[str, Any]) -> bytes:
    """Single-object Avro bytes of ``record`` (Avro dict form, aware UTC datetimes).

    Raises :class:`~schemas.errors.ValidationError` naming the field when the record does not fit.
    """
    return default_codec().subject(subject).encode(record)


def decode(data: bytes) -> Decoded:
    """Decode any record of the registry; the result says which subject and version it was.

    Raises :class:`~schemas.errors.CorruptPayloadError`, :class:`~schemas.errors.UnknownSchemaError`
    or :class:`~schemas.errors.ValidationError`.
    """
    return default_codec().decode(data)


def decode_as(subject: str, data: bytes) -> dict[str, Any]:
    """Decode a record that must be of ``subject``.

    Raises :class:`~schemas.errors.WrongSubjectError` when it is of another subject, and the
    errors of :func:`decode`.
    """
    return default_codec().decode_as(subject, data)
