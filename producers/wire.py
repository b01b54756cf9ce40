"""The wire codec a producing process writes with: single-object, or the Confluent wire format
when ``NURTURE_SCHEMA_REGISTRY_URL`` is set (docs/integrations.md, "Schema Registry mode").

Built once per process and per settings: the SDK, ``nurture publish``, ``nurture simulate`` and
the gateway (whose Kafka publisher makes a new SDK producer on every reconnect) share one codec,
so each schema id is looked up in the registry once, when the first encoder is built at
start-up, and never again while records are written. The settings themselves are read from the
environment each time a producer is built (eight fields): a process's environment does not
change, and a test that sets ``NURTURE_SCHEMA_REGISTRY_URL`` for one producer leaves no
registry behind for the next.
"""

from __future__ import annotations

from functools import lru_cache

from schemas.schema_registry.codec import WireCodec, wire_codec
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings


def producer_wire_codec(
    kafka: KafkaSettings, settings: SchemaRegistrySettings | None = None
) -> WireCodec:
    """The codec of ``settings`` (default: the environment's) for the topics of
    ``kafka`` (its prefix names the TopicNameStrategy subjects). Connects to nothing: the
    encoders built from it look their schema ids up."""
    return _shared(settings or SchemaRegistrySettings(), kafka.topic_prefix)


@lru_cache(maxsize=8)
def _shared(settings: SchemaRegistrySettings, topic_prefix: str) -> WireCodec:
    return wire_codec(settings, topic_prefix=topic_prefix)
