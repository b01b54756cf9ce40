"""The worker's encoders and decoders, in the framing the deployment writes (built once).

With Schema Registry mode off (``NURTURE_SCHEMA_REGISTRY_URL`` unset) the worker writes and
reads Avro single-object frames, as always. With it on, it writes the Confluent wire format
(``00`` + the registry's schema id + the same Avro body) and reads **both** framings, record by
record (docs/integrations.md, "Schema Registry mode").

:func:`worker_codecs` asks the registry for every schema id the worker writes with *at
start-up*, so an unregistered schema (:class:`~schemas.errors.ConfigError`) or a registry that
does not answer (:class:`~schemas.errors.SchemaRegistryUnavailableError`) stops the process
before it consumes anything, never record by record. It also caches the ids of every catalog
version of what the worker reads (:data:`READ_SUBJECTS`) that is registered, so activity events,
profiles and erasure markers written with any of them keep decoding while the registry is down
(an unsubscribe or an erasure is not dead-lettered by an outage). Reading another schema id
later is cached and fails fast (:mod:`schemas.schema_registry.resolver`): such records are
dead-lettered with the reason like any record that does not decode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from schemas.codec import Decoded, activity_codec, default_codec
from schemas.fast_writer.builders import fast_encoder
from schemas.schema_registry.codec import (
    RecordDecoder,
    SingleObjectCodec,
    WireCodec,
    warm_read_ids,
    wire_codec,
)
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.topics import ACTION, ACTIVITY, ENGAGEMENT, PROFILE, SUPPRESSION

Encoder = Callable[[Mapping[str, Any]], bytes]

#: What the worker reads, as (declared topic, catalog subject): the ids of all their registered
#: versions are cached at start (:func:`~schemas.schema_registry.codec.warm_read_ids`).
READ_SUBJECTS = (
    (ACTIVITY, "activity_event"),
    (PROFILE, "candidate_profile"),
    (PROFILE, "erasure_request"),
)


@dataclass(frozen=True)
class WorkerCodecs:
    """What the worker's processors encode and decode records with."""

    #: The process's codec (its :attr:`~WireCodec.framing` is what the worker writes).
    wire: WireCodec
    #: ``candidate.activity`` events, ``occurred_at``/``received_at`` as epoch µs.
    decode_activity: RecordDecoder
    #: ``candidate.engagement`` records (the compiled writer: the hot path).
    encode_engagement: Encoder
    #: ``nurture.action`` records.
    encode_action: Encoder
    #: ``candidate.suppression`` records.
    encode_suppression: Encoder

    def decode_profile(self, data: bytes) -> Decoded:
        """A ``candidate.profile`` record: a profile or an erasure request, either framing."""
        return self.wire.decode(data)


def worker_codecs(wire: WireCodec) -> WorkerCodecs:
    """The worker's codecs over ``wire``; looks up the schema ids of every output subject now
    (ConfigError when one is not registered, SchemaRegistryUnavailableError when the registry
    does not answer), then caches those of every registered version it reads."""
    codecs = WorkerCodecs(
        wire=wire,
        decode_activity=wire.subject_decoder(activity_codec().micros_codec()),
        encode_engagement=fast_encoder(wire.encoder(ENGAGEMENT, "engagement_record")),
        encode_action=wire.encoder(ACTION, "nurture_action").encode,
        encode_suppression=wire.encoder(SUPPRESSION, "candidate_suppression").encode,
    )
    warm_read_ids(wire, READ_SUBJECTS)
    return codecs


def registry_codecs(settings: SchemaRegistrySettings, *, topic_prefix: str) -> WorkerCodecs:
    """The worker's codecs for a deployment with these registry settings and topic prefix."""
    return worker_codecs(wire_codec(settings, topic_prefix=topic_prefix))


@lru_cache(maxsize=1)
def single_object_codecs() -> WorkerCodecs:
    """Single-object codecs (Schema Registry mode off): the default of the processors."""
    return worker_codecs(SingleObjectCodec(default_codec()))
