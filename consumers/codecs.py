"""What delivery reads and writes records with, in the framing the deployment uses (built once).

With Schema Registry mode off (``NURTURE_SCHEMA_REGISTRY_URL`` unset) delivery reads and writes
Avro single-object frames, as always. With it on, outcomes are written in the Confluent wire
format (``00`` + the registry's schema id + the same Avro body) and actions, profiles,
unsubscribes and outcomes are read in **both** framings, record by record
(docs/integrations.md, "Schema Registry mode").

:func:`delivery_codecs` looks up the schema id of the outcomes *at start-up*, so a schema not
registered (:class:`~schemas.errors.ConfigError`) or a registry that does not answer
(:class:`~schemas.errors.SchemaRegistryUnavailableError`) stops the process before it reads an
action. It also looks up the ids of every catalog version of what delivery reads
(:data:`READ_SUBJECTS`), when registered: records written with any of them then decode from
the cache even while the registry is down. A schema id read later is resolved once, cached, and
fails fast (:mod:`schemas.schema_registry.resolver`): the action is dead-lettered with the
reason; a view skips a record whose id the registry does not know, as it skips any record that
does not decode, but waits at one the registry did not answer for, holding the sends
(:mod:`consumers.mirror`, :mod:`consumers.registry_wait`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from schemas.codec import Decoded, codec_for, default_codec
from schemas.schema_registry.codec import (
    RecordDecoder,
    SingleObjectCodec,
    WireCodec,
    warm_read_ids,
    wire_codec,
)
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.subject_codec import SubjectCodec
from schemas.topics import ACTION, DELIVERY, PROFILE, SUPPRESSION

#: What delivery reads, as (declared topic, catalog subject): the ids of all their registered
#: versions are cached at start (:func:`~schemas.schema_registry.codec.warm_read_ids`); a
#: version not registered is no error (its writers may not be switched). ``nurture.action.retry``
#: holds copies of ``nurture.action`` records, bytes and schema ids unchanged: its ids are those.
READ_SUBJECTS = (
    (ACTION, "nurture_action"),
    (PROFILE, "candidate_profile"),
    (PROFILE, "erasure_request"),
    (SUPPRESSION, "candidate_suppression"),
    (DELIVERY, "delivery_outcome"),
)


@dataclass(frozen=True)
class DeliveryCodecs:
    """The decoders of delivery's inputs and the encoder of its outcomes."""

    #: The process's codec (its :attr:`~WireCodec.framing` is what outcomes are written in).
    wire: WireCodec
    #: ``nurture.action`` (and its retry topic) records.
    decode_action: RecordDecoder
    #: ``candidate.suppression`` records.
    decode_suppression: RecordDecoder
    #: ``nurture.delivery`` records (the outcome index).
    decode_outcome: RecordDecoder
    #: Writes ``nurture.delivery`` records.
    outcome: SubjectCodec

    def decode_profile(self, data: bytes) -> Decoded:
        """A ``candidate.profile`` record: a profile or an erasure request, either framing."""
        return self.wire.decode(data)


def delivery_codecs(wire: WireCodec) -> DeliveryCodecs:
    """Delivery's codecs over ``wire``; looks up the outcomes' schema id now (ConfigError when
    it is not registered, SchemaRegistryUnavailableError when the registry does not answer),
    then caches those of every registered version it reads."""
    outcome = wire.encoder(DELIVERY, "delivery_outcome")
    warm_read_ids(wire, READ_SUBJECTS)
    return DeliveryCodecs(
        wire=wire,
        decode_action=wire.subject_decoder(codec_for("nurture_action")),
        decode_suppression=wire.subject_decoder(codec_for("candidate_suppression")),
        decode_outcome=wire.subject_decoder(codec_for("delivery_outcome")),
        outcome=outcome,
    )


def registry_codecs(settings: SchemaRegistrySettings, *, topic_prefix: str) -> DeliveryCodecs:
    """Delivery's codecs for a deployment with these registry settings and topic prefix."""
    return delivery_codecs(wire_codec(settings, topic_prefix=topic_prefix))


@lru_cache(maxsize=1)
def single_object_codecs() -> DeliveryCodecs:
    """Single-object codecs (Schema Registry mode off): the default of the views and loop."""
    return delivery_codecs(SingleObjectCodec(default_codec()))
