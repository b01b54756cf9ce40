"""Every settings model of the pipeline and which processes read it: the one place that says so.

`nurture config` prints and checks the models in this order, and docs/configuration.md is
generated from it (:mod:`deploy.cli.config_docs`). A reader is a `nurture` command as typed
after ``nurture`` (a group such as ``broker`` stands for each of its commands), or one of
:data:`SDK` and :data:`EVERY_PROCESS`. tests/test_config.py checks that every settings model
of the project is here, that each reader is a command, and that each command with a bad
setting in tests/test_cli_errors.py is listed as reading it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_settings import BaseSettings

from consumers.settings import DeliverySettings
from deploy.broker.settings import BrokerSettings, JarCacheSettings
from deploy.registry.settings import RegistrySettings
from producers.gateway.settings import GatewaySettings
from producers.settings import ProducerSettings
from schemas.privacy.settings import PrivacySettings
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings
from streams.worker.settings import WorkerSettings

#: The producer SDK (``producers.NurtureProducer``) in any Python program, not only `nurture`.
SDK = "producer SDK"
#: Every `nurture` command and the producer SDK.
EVERY_PROCESS = "every process"


@dataclass(frozen=True)
class SettingsModel:
    """A settings model, what it configures and who reads it."""

    model: type[BaseSettings]
    #: A short title: what the model configures.
    title: str
    #: The commands (and the SDK) that read it, in the order a reader looks for them.
    readers: tuple[str, ...]


SETTINGS_MODELS: tuple[SettingsModel, ...] = (
    SettingsModel(KafkaSettings, "Kafka connection and topics", (EVERY_PROCESS,)),
    SettingsModel(
        ProducerSettings,
        "Producer SDK",
        (SDK, "gateway", "publish", "simulate", "erase", "bench sdk", "up"),
    ),
    SettingsModel(GatewaySettings, "HTTP gateway", ("gateway", "up")),
    SettingsModel(
        WorkerSettings,
        "Stream worker",
        ("worker", "score", "replay", "erasure verify", "up"),
    ),
    SettingsModel(DeliverySettings, "Delivery consumers", ("deliver", "erasure verify", "up")),
    SettingsModel(
        PrivacySettings,
        "Privacy: key-encryption keys",
        (SDK, "gateway", "deliver", "publish", "simulate", "erase", "keys rewrap", "up"),
    ),
    SettingsModel(BrokerSettings, "Local broker", ("broker", "up", "chaos")),
    SettingsModel(JarCacheSettings, "Local broker's jar cache", ("broker", "up", "chaos")),
    SettingsModel(RegistrySettings, "Local schema registry", ("registry",)),
    SettingsModel(
        SchemaRegistrySettings,
        "Schema Registry mode",
        (
            "schemas register",
            SDK,
            "gateway",
            "publish",
            "simulate",
            "erase",
            "bench sdk",
            "deliver",
            "up",
            "worker",
            "replay rebuild",
            "replay shadow",
            "replay diff",
            "topics export",
            "topics import",
            "dlq show",
            "erasure verify",
            "chaos",
            "campaigns simulate",
        ),
    ),
)

#: Who reads the ``NURTURE_RETENTION_<TOPIC>`` overrides (``schemas.topics``; not a model):
#: the commands that create topics.
RETENTION_READERS: tuple[str, ...] = ("topics create", "up")
