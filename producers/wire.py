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

from pydantic import ValidationError as PydanticValidationError

from schemas.errors import ConfigError
from schemas.schema_registry.codec import WireCodec, wire_codec
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings

#: The settings' environment variables start with this.
ENV_PREFIX = "NURTURE_SCHEMA_REGISTRY_"


def producer_wire_codec(
    kafka: KafkaSettings, settings: SchemaRegistrySettings | None = None
) -> WireCodec:
    """The codec of ``settings`` (default: the environment's, :func:`environment_settings`) for
    the topics of ``kafka`` (its prefix names the TopicNameStrategy subjects). Connects to
    nothing: the encoders built from it look their schema ids up."""
    return _shared(settings or environment_settings(), kafka.topic_prefix)


def environment_settings() -> SchemaRegistrySettings:
    """``NURTURE_SCHEMA_REGISTRY_*`` from the environment; :class:`ConfigError` naming each
    invalid variable and why (never its value: the URL or a secret may hold credentials), as
    an SDK user gets for any setting the SDK refuses, whether the mode is on or off."""
    try:
        return SchemaRegistrySettings()
    except PydanticValidationError as exc:
        raise ConfigError("; ".join(_problems(exc))) from None


def _problems(exc: PydanticValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        context = error.get("ctx") or {}
        reason = str(context["error"]) if error["type"] == "value_error" else error["msg"]
        if error["loc"]:
            problems.append(f"invalid setting {ENV_PREFIX}{str(error['loc'][0]).upper()}: {reason}")
        else:  # a check across fields (basic auth and a bearer token, ...)
            problems.append(f"invalid {ENV_PREFIX}* settings: {reason}")
    return problems


@lru_cache(maxsize=8)
def _shared(settings: SchemaRegistrySettings, topic_prefix: str) -> WireCodec:
    return wire_codec(settings, topic_prefix=topic_prefix)
