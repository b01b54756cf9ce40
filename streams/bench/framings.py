"""The worker bench in both framings (issue #18, item 5): the same events, Confluent-framed.

The scoring-only run of `nurture bench worker` is repeated on a topic prefix of its own
(``<bench prefix>confluent.``) holding the same events in the Confluent wire format, read by a
worker in Schema Registry mode; the two steady rates are reported side by side. The records are
the single-object ones with their 10-byte header replaced by ``00`` + the registry's schema id
(the Avro body is the same bytes), so the runs differ only in the framing the worker reads.

The registry is the caller's (`nurture bench worker` starts a throw-away local one, so no
real registry gets the bench's subjects); the catalog is registered under the bench prefix first,
as `nurture schemas register` would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from schemas import wire
from schemas.catalog import default_catalog
from schemas.kafka_seam import topic_admin
from schemas.schema_registry import framing
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.codec import confluent_codec
from schemas.schema_registry.register import register_catalog
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from streams.bench.loadgen import publish

Pairs = list[tuple[bytes, bytes]]
Report = Callable[[str], None]
#: One scoring-only worker run on these settings with this extra environment: its figures.
ScoringRun = Callable[[KafkaSettings, Mapping[str, str]], dict[str, float]]

REGISTRY_URL_VARIABLE = "NURTURE_SCHEMA_REGISTRY_URL"
#: The prefix of the figures of the Confluent-framed run.
CONFLUENT = "confluent_"


def registry_mode_env(registry: SchemaRegistrySettings | None) -> dict[str, str]:
    """The worker's registry variable: ``registry``'s URL, or the mode off (an empty URL), so a
    ``NURTURE_SCHEMA_REGISTRY_URL`` in the caller's environment does not change a run."""
    url = registry.url if registry is not None else None
    return {REGISTRY_URL_VARIABLE: url or ""}


def confluent_pairs(kafka: KafkaSettings, registry: SchemaRegistrySettings, pairs: Pairs) -> Pairs:
    """``pairs`` (single-object values) as Confluent frames for ``kafka``'s topic prefix,
    after registering the catalog under that prefix."""
    with SchemaRegistryClient(registry) as client:
        register_catalog(client, default_catalog(), topic_prefix=kafka.topic_prefix)
    codec = confluent_codec(registry, topic_prefix=kafka.topic_prefix)
    header = framing.header(codec.schema_id(ACTIVITY, "activity_event"))
    return [(key, header + value[wire.HEADER_SIZE :]) for key, value in pairs]


def confluent_scoring(
    kafka: KafkaSettings,
    registry: SchemaRegistrySettings,
    pairs: Pairs,
    run_scoring: ScoringRun,
) -> dict[str, float]:
    """The scoring-only run on ``pairs`` Confluent-framed, on ``<kafka prefix>confluent.``
    (under the bench prefix, so the bench deletes its topics); figures prefixed ``confluent_``."""
    settings = kafka.model_copy(update={"topic_prefix": f"{kafka.topic_prefix}confluent."})
    created = topic_admin.create_all(settings)
    if not created.ok:
        raise RuntimeError(f"topic conflicts: {created.conflicts}")
    publish(settings, settings.topic(ACTIVITY), confluent_pairs(settings, registry, pairs))
    figures = run_scoring(settings, registry_mode_env(registry))
    return {f"{CONFLUENT}{name}": value for name, value in figures.items()}


def report_framings(figures: Mapping[str, float], report: Report) -> None:
    """The scoring worker's steady rate in both framings, side by side."""
    single = figures["scoring_worker_steady_events_per_s"]
    confluent = figures.get(f"{CONFLUENT}worker_steady_events_per_s")
    if confluent is None:
        return
    report(
        f"framings, scoring worker steady rate: Confluent {confluent:,.0f} ev/s, "
        f"single-object {single:,.0f} ev/s (Confluent / single-object = {confluent / single:.0%})"
    )
