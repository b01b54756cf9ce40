"""Settings shared by every process: how to reach Kafka and how topics are named.

Loaded once per process from the environment (``NURTURE_*``) or from CLI flags; frozen afterwards.
Secrets are :class:`pydantic.SecretStr` so they never reach a log or a repr.

Environment variables (all optional):

=================================  ====================================================
``NURTURE_BOOTSTRAP_SERVERS``      comma-separated ``host:port`` list (``127.0.0.1:9092``)
``NURTURE_TOPIC_PREFIX``           prefix added to every topic name (empty)
``NURTURE_TOPIC_PARTITIONS``       partitions for created topics (6)
``NURTURE_TOPIC_REPLICATION``      replication factor for created topics (min(3, brokers))
``NURTURE_SECURITY_PROTOCOL``      PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
``NURTURE_SASL_MECHANISM``         PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
``NURTURE_SASL_USERNAME``          SASL user
``NURTURE_SASL_PASSWORD``          SASL password (secret)
``NURTURE_SSL_CAFILE``             CA bundle that signed the brokers' certificates
``NURTURE_SSL_CERTFILE``           client certificate (mutual TLS)
``NURTURE_SSL_KEYFILE``            client key (mutual TLS)
``NURTURE_SSL_KEY_PASSWORD``       password of the client key (secret)
``NURTURE_SSL_CHECK_HOSTNAME``     verify the broker host name (true)
=================================  ====================================================
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


#: Copies of each partition at most when the replication is derived from the cluster size.
MAX_REPLICATION = 3


def min_insync_replicas(replication: int) -> int:
    """``min.insync.replicas`` for a topic with ``replication`` copies: all but one, so a broker
    may be down (or restarting) while acks=all producers still write; at least one."""
    return max(1, replication - 1)


class KafkaSettings(BaseSettings):
    """Connection and naming settings every Kafka client of the project uses."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_", frozen=True, extra="ignore")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name, e.g. 'staging.'.")
    topic_partitions: int = Field(6, ge=1, description="Partitions of topics we create.")
    topic_replication: int | None = Field(
        None,
        ge=1,
        description="Replication factor of topics we create (default: min(3, brokers)).",
    )

    def replication_for(self, brokers: int) -> int:
        """The replication factor of a topic created on a cluster of ``brokers``: the one
        configured, else three copies (one per broker on smaller clusters)."""
        return self.topic_replication or min(MAX_REPLICATION, max(1, brokers))

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True

    @field_validator("bootstrap_servers")
    @classmethod
    def _non_empty_hosts(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        if not hosts or any(":" not in h for h in hosts):
            raise ValueError("expected a comma-separated list of host:port")
        return ",".join(hosts)

    @property
    def bootstrap_list(self) -> list[str]:
        """The bootstrap servers as a list of ``host:port`` strings."""
        return self.bootstrap_servers.split(",")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def topic(self, name: str) -> str:
        """The full name of a declared topic, with the prefix."""
        return f"{self.topic_prefix}{name}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context built from the ``ssl_*`` settings, or None for plaintext protocols."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile:
            password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            context.load_cert_chain(
                str(self.ssl_certfile),
                str(self.ssl_keyfile) if self.ssl_keyfile else None,
                password,
            )
        return context


def _group_of(field: FieldInfo) -> type[BaseSettings] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
        return annotation
    return None


class _EnvOfOwnFields(EnvSettingsSource):
    """The environment for a model's own fields only: a group reads its variables itself
    (``NURTURE_WORKER_STORE`` is the store's URL, not the JSON of the ``store`` group)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if _group_of(field) is not None:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _EnvByVariable(EnvSettingsSource):
    """The environment for a group: a field with a variable of its own (``validation_alias``)
    reads that variable only. (``validate_by_name`` lets code pass ``url=``; without this it
    would also make ``NURTURE_WORKER_URL`` a variable, which no one documented.)"""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, complex_value = super().get_field_value(field, field_name)
        alias = field.validation_alias
        if isinstance(alias, str) and key != alias:
            return None, field_name, False
        return value, key, complex_value


class SettingsGroup(BaseSettings):
    """One group of a :class:`GroupedSettings` model (``DeliverySettings.smtp``): a frozen
    settings model of its own, named in code by field name and in the environment by variable
    only."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvByVariable(settings_cls), dotenv_settings, file_secret_settings


class GroupedSettings(BaseSettings):
    """A settings model made of groups: fields that are settings models of their own
    (``smtp: SmtpSettings``), each with its own variables. A group not given is loaded from the
    environment, and the invalid settings of every group and of the model itself are reported
    together, at ``(group, field)``, as a flat model would report them. (In ``__init__``, not
    a validator: a value pydantic-settings cannot parse stays its ``SettingsError``.)"""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvOfOwnFields(settings_cls), dotenv_settings, file_secret_settings

    def __init__(self, **values: Any) -> None:
        errors: list[Any] = []
        for name, field in type(self).model_fields.items():
            group = _group_of(field)
            given = values.get(name)
            if group is None or isinstance(given, BaseSettings):
                continue
            try:  # a dict: the fields given, the rest of the group from the environment
                values[name] = group(**(given or {}))
            except ValidationError as exc:
                errors += [{**error, "loc": (name, *error["loc"])} for error in exc.errors()]
                values[name] = group.model_construct()  # so the other fields are checked too
        try:
            super().__init__(**values)
        except ValidationError as exc:
            errors += exc.errors()
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)

    @classmethod
    def given(cls, **values: Any) -> Self:
        """The settings from the environment with ``values`` over them (CLI flags): a field of
        the model by name, a group's fields as a dict under the group's name
        (``store={"data_dir": path}``; the rest of that group still comes from the
        environment). A value of None is no value: the environment's (or default) stays."""
        given: dict[str, Any] = {}
        for name, value in values.items():
            kept = value
            if isinstance(value, dict):
                kept = {key: item for key, item in value.items() if item is not None}
            if kept is not None:
                given[name] = kept
        return cls(**given)


@lru_cache(maxsize=1)
def load_kafka_settings() -> KafkaSettings:
    """The process-wide settings from the environment (CLI flags override via ``model_copy``)."""
    return KafkaSettings()
