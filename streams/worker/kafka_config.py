"""Adapter: the project's :class:`KafkaSettings` as faust ``App`` options, and the partition
counts the worker checks before faust starts (clients from :mod:`schemas.kafka_seam.clients`)."""

from __future__ import annotations

from typing import Any

import faust

from schemas.errors import ConfigError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, PROFILE


def faust_broker_options(kafka: KafkaSettings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for :class:`faust.App` (plaintext, TLS or SASL)."""
    options: dict[str, Any] = {"broker": [f"kafka://{host}" for host in kafka.bootstrap_list]}
    context = kafka.ssl_context()
    if kafka.uses_sasl:
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        options["broker_credentials"] = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=password,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism or "SCRAM-SHA-512",
        )
    elif context is not None:
        options["broker_credentials"] = faust.SSLCredentials(context)
    return options


def topic_partitions(
    kafka: KafkaSettings, names: list[str], timeout_s: float = 15.0
) -> dict[str, int]:
    """Partition count of each topic in ``names`` (full names); ConfigError when one is missing.

    KafkaUnavailableError when the cluster does not answer, KafkaAuthenticationError when it
    refuses the credentials or TLS (checked here, before faust starts, so the cause is clear).
    """
    with clients.explained(kafka):
        consumer = clients.consumer(kafka, request_timeout_ms=int(timeout_s * 1000))
    try:
        counts = {}
        for name in names:
            found = consumer.partitions_for_topic(name)
            if not found:
                raise ConfigError(
                    f"topic {name} does not exist on {kafka.bootstrap_servers}: "
                    "run `nurture topics create` first"
                )
            counts[name] = len(found)
        return counts
    finally:
        consumer.close()


def source_partitions(kafka: KafkaSettings, timeout_s: float = 15.0) -> int:
    """Partition count of candidate.activity, checked equal to candidate.profile's.

    The candidate table's changelog gets the same count, so each row lives on the partition of
    its candidate's events (co-partitioning); a mismatch is a deployment error.
    """
    counts = topic_partitions(kafka, [kafka.topic(ACTIVITY), kafka.topic(PROFILE)], timeout_s)
    if len(set(counts.values())) != 1:
        raise ConfigError(
            f"topics must have the same partition count to be co-partitioned, found {counts}"
        )
    return next(iter(counts.values()))
