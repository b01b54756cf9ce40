"""The codec a process uses, from its settings: single-object framing, or the Confluent wire
format with a schema registry (:func:`wire_codec`).

Both answer the same calls (:class:`WireCodec`): ``encoder(topic, subject)`` is the
:class:`~schemas.subject_codec.SubjectCodec` that writes that topic's records in the codec's
framing (hand it to ``activity_writer``/``fast_encoder`` for the compiled writer: they take the
header from it), and ``decode``/``decode_as`` read records. The Confluent codec reads **both**
framings, per record, by the first byte (``C3`` single-object, ``00`` Confluent): that is what
lets a topic migrate from one to the other with both kinds of record in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from schemas.catalog import Catalog
from schemas.codec import Codec, Decoded, default_codec
from schemas.errors import ConfigError, WrongSubjectError
from schemas.schema_registry import framing
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.resolver import SchemaIdResolver
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.schema_registry.subjects import registry_subject, schema_text
from schemas.subject_codec import SubjectCodec

log = logging.getLogger(__name__)

RecordDecoder = Callable[[bytes], dict[str, Any]]


class SchemaIds(Protocol):
    """Where an encoder finds its schema id
    (:class:`~schemas.schema_registry.client.SchemaRegistryClient`, or an in-memory stand-in)."""

    url: str

    def lookup(self, subject: str, schema: str) -> int | None: ...


class WireCodec(Protocol):
    """What writers and readers ask of the codec, whichever the framing."""

    #: The framing :meth:`encoder` writes.
    framing: framing.Framing

    def encoder(self, topic: str, subject: str) -> SubjectCodec:
        """The codec that writes ``subject``'s records to the declared ``topic``."""
        ...

    def decode(self, data: bytes) -> Decoded:
        """Subject, writer version and record (resolved to the current version) of ``data``."""
        ...

    def decode_as(self, subject: str, data: bytes) -> dict[str, Any]:
        """The record in ``data``, which must be of ``subject`` (else WrongSubjectError)."""
        ...

    def subject_decoder(self, codec: SubjectCodec) -> RecordDecoder:
        """``codec.decode`` reading this codec's framings (``codec`` may be a variant of a
        subject's codec, such as ``ActivityCodec.micros_codec()``)."""
        ...


class SingleObjectCodec:
    """Avro single-object encoding only: what every process uses when the mode is off."""

    framing: framing.Framing = "single-object"

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def encoder(self, topic: str, subject: str) -> SubjectCodec:
        registry_subject(topic, subject, catalog=self.codec.catalog)  # the topic carries it?
        return self.codec.subject(subject)

    def decode(self, data: bytes) -> Decoded:
        return self.codec.decode(data)

    def decode_as(self, subject: str, data: bytes) -> dict[str, Any]:
        return self.codec.decode_as(subject, data)

    def subject_decoder(self, codec: SubjectCodec) -> RecordDecoder:
        return codec.decode


class ConfluentCodec:
    """Writes the Confluent wire format with the registry's schema ids; reads both framings.

    An encoder looks its schema id up once (the subject's current version must be registered:
    `nurture schemas register`; writers never register on their own). Ids read from records are
    resolved by ``resolver`` (cached; :mod:`schemas.schema_registry.resolver`).
    """

    framing: framing.Framing = "confluent"

    def __init__(
        self,
        codec: Codec,
        client: SchemaIds,
        resolver: SchemaIdResolver,
        *,
        topic_prefix: str = "",
    ) -> None:
        self.codec = codec
        self.client = client
        self.resolver = resolver
        self._topic_prefix = topic_prefix
        self._encoders: dict[tuple[str, str], SubjectCodec] = {}

    def schema_id(self, topic: str, subject: str) -> int:
        """The registry's id of ``subject``'s current version under the topic's registry
        subject; :class:`ConfigError` when it is not registered there."""
        version = self.codec.subject(subject).reader
        where = registry_subject(
            topic, subject, topic_prefix=self._topic_prefix, catalog=self.codec.catalog
        )
        schema_id = self.client.lookup(where, schema_text(version.schema))
        if schema_id is None:
            raise ConfigError(
                f"{subject} v{version.version} is not registered under subject {where!r} at "
                f"{self.client.url}: run `nurture schemas register` first"
            )
        self.resolver.remember(schema_id, version)
        return schema_id

    def encoder(self, topic: str, subject: str) -> SubjectCodec:
        found = self._encoders.get((topic, subject))
        if found is None:
            header = framing.header(self.schema_id(topic, subject))
            found = self._encoders[topic, subject] = self.codec.subject(subject).reframed(header)
        return found

    def decode(self, data: bytes) -> Decoded:
        if not data or data[0] != 0:
            return self.codec.decode(data)
        writer = self.resolver.resolve(framing.read_schema_id(data))
        codec = self.codec.subject(writer.subject)
        codec.accept_writer(writer)
        return Decoded(
            writer.subject, writer.version, codec.decode_body(writer, data, framing.HEADER_SIZE)
        )

    def decode_as(self, subject: str, data: bytes) -> dict[str, Any]:
        return self.subject_decoder(self.codec.subject(subject))(data)

    def subject_decoder(self, codec: SubjectCodec) -> RecordDecoder:
        single_object, resolve, subject = codec.decode, self.resolver.resolve, codec.subject

        def decode(data: bytes) -> dict[str, Any]:
            if not data or data[0] != 0:
                return single_object(data)
            writer = resolve(framing.read_schema_id(data))
            if writer.subject != subject:
                raise WrongSubjectError(subject, writer.subject, writer.version)
            codec.accept_writer(writer)
            return codec.decode_body(writer, data, framing.HEADER_SIZE)

        return decode

    def warm_read_ids(self, reads: Iterable[tuple[str, str]]) -> tuple[str, ...]:
        """Look up the id of every catalog version of each (declared topic, catalog subject)
        in ``reads`` under its registry subject, and cache it in the resolver: records written
        with any of those versions then decode without the registry (during an outage too).

        A version the registry does not have is no error (its writers may never have used it,
        or not switched yet): those are returned, as ``"<subject> v<N> under '<registry
        subject>'"``, and logged in one line; their records are resolved when read.
        :class:`~schemas.errors.SchemaRegistryUnavailableError` (or ``...AuthError``) when the
        registry does not answer."""
        missing: list[str] = []
        for topic, subject in reads:
            where = registry_subject(
                topic, subject, topic_prefix=self._topic_prefix, catalog=self.codec.catalog
            )
            for version in self.codec.catalog.subject(subject).versions:
                schema_id = self.client.lookup(where, schema_text(version.schema))
                if schema_id is None:
                    missing.append(f"{subject} v{version.version} under {where!r}")
                else:
                    self.resolver.remember(schema_id, version)
        if missing:
            log.info(
                "not registered at %s, so records written with them are resolved when read "
                "(not while the registry is down): %s",
                self.client.url,
                ", ".join(missing),
            )
        return tuple(missing)


def warm_read_ids(wire: WireCodec, reads: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """At a reader's start: cache the schema id of every catalog version of what it ``reads``
    ((declared topic, catalog subject) pairs), so Confluent frames of any registered version
    decode while the registry is down (:meth:`ConfluentCodec.warm_read_ids`; nothing to do and
    ``()`` with single-object framing). Returns the versions not registered (logged, no error);
    raises :class:`~schemas.errors.SchemaRegistryUnavailableError` when the registry does not
    answer."""
    if isinstance(wire, ConfluentCodec):
        return wire.warm_read_ids(reads)
    return ()


def confluent_codec(
    settings: SchemaRegistrySettings,
    *,
    topic_prefix: str = "",
    catalog: Catalog | None = None,
) -> ConfluentCodec:
    """The Confluent codec of the registry ``settings`` name (its URL must be set)."""
    codec = default_codec() if catalog is None else Codec(catalog)
    client = SchemaRegistryClient(settings)
    resolver = SchemaIdResolver(
        client,
        codec.catalog,
        unknown_id_retry_s=settings.unknown_id_retry_s,
        unavailable_retry_s=settings.unavailable_retry_s,
        unavailable_retry_max_s=settings.unavailable_retry_max_s,
    )
    return ConfluentCodec(codec, client, resolver, topic_prefix=topic_prefix)


def wire_codec(settings: SchemaRegistrySettings, *, topic_prefix: str = "") -> WireCodec:
    """The codec to write and read with: single-object when ``NURTURE_SCHEMA_REGISTRY_URL``
    is unset, else the Confluent wire format (reading both framings). Connects to nothing until
    an encoder is asked for or a Confluent frame is read."""
    if not settings.enabled:
        return SingleObjectCodec(default_codec())
    return confluent_codec(settings, topic_prefix=topic_prefix)
