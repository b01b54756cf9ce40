"""The SDK's one door into kafka-python's private members, with a check at connect time.

kafka-python 3.0 offers no public call to refresh a producer's metadata for a few topics (the
SDK's health probe) nor to stop a wedged producer's I/O thread (see ``client.py`` for why that
is needed). Both go through the producer's ``_sender`` and ``_metadata``, reached only here;
:func:`check` verifies they exist and fails with one line naming kafka-python's version and the
missing member. Tested with :data:`TESTED_VERSION`; ``pyproject.toml`` pins it.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer
from kafka.producer.sender import Sender

from schemas import internals_check

#: The kafka-python release these members were read from and tested with.
TESTED_VERSION = "3.0.12"

#: (class, method that sets or defines the member, member, who needs it).
PRIVATE_MEMBERS: tuple[tuple[type, str, str, str], ...] = (
    (KafkaProducer, "__init__", "_sender", "the SDK's metadata probe and forced close"),
    (KafkaProducer, "__init__", "_metadata", "the SDK's metadata probe"),
    (Sender, "add_topic", "", "the SDK's metadata probe"),
    (Sender, "wakeup", "", "the SDK's metadata probe"),
    (Sender, "force_close", "", "the SDK's forced close"),
)


def missing_members() -> list[str]:
    """One line per member the installed kafka-python lacks (empty: all there)."""
    return [
        f"{cls.__module__}.{cls.__qualname__}.{attribute or method} (needed by {why})"
        for cls, method, attribute, why in PRIVATE_MEMBERS
        if not (
            internals_check.assigns(cls, method, attribute)
            if attribute
            else callable(getattr(cls, method, None))
        )
    ]


def check() -> None:
    """Fail fast, in one line, when the installed kafka-python lacks a member used here."""
    internals_check.require("kafka-python", TESTED_VERSION, missing_members(), "the SDK")


def request_metadata(client: Any, topics: list[str]) -> Any:
    """Ask ``client`` (a ``KafkaProducer``) for fresh metadata of ``topics`` now; returns
    kafka-python's future (resolved once a response arrived)."""
    for topic in topics:
        client._sender.add_topic(topic)
    future = client._metadata.request_update()
    client._sender.wakeup()
    return future


def stop_io_thread(client: Any, timeout_s: float) -> None:
    """Stop ``client``'s I/O thread now (its pending records fail: "closed forcefully")."""
    sender = getattr(client, "_sender", None)
    if sender is not None:
        sender.force_close()
        sender.join(timeout_s)
