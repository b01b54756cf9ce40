"""Settings of the Schema Registry mode: where the registry is and how to log in to it.

Environment variables (all optional; without ``NURTURE_SCHEMA_REGISTRY_URL`` the mode is off
and every record stays Avro single-object encoded):

============================================  ===============================================
``NURTURE_SCHEMA_REGISTRY_URL``               the Confluent-compatible API, e.g.
                                              ``http://127.0.0.1:8081/apis/ccompat/v7``
``NURTURE_SCHEMA_REGISTRY_USERNAME``          basic auth user (with the password)
``NURTURE_SCHEMA_REGISTRY_PASSWORD``          basic auth password (secret)
``NURTURE_SCHEMA_REGISTRY_BEARER_TOKEN``      a bearer token instead of basic auth (secret)
``NURTURE_SCHEMA_REGISTRY_CA_FILE``           CA bundle that signed the registry's certificate
``NURTURE_SCHEMA_REGISTRY_TIMEOUT_S``         longest wait for one answer (5 s)
``NURTURE_SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_S`` how long an unknown schema id stays unknown (30 s)
``NURTURE_SCHEMA_REGISTRY_UNAVAILABLE_RETRY_S`` how long a failed look-up fails fast (5 s)
``NURTURE_SCHEMA_REGISTRY_UNAVAILABLE_RETRY_MAX_S`` how long that grows to while the registry
                                              stays down (doubled per failure, 60 s)
============================================  ===============================================
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchemaRegistrySettings(BaseSettings):
    """Where the schema registry is, how to authenticate, and how long to wait for it."""

    model_config = SettingsConfigDict(
        env_prefix="NURTURE_SCHEMA_REGISTRY_", frozen=True, extra="ignore"
    )

    url: str | None = Field(
        None,
        description="Confluent-compatible API of the schema registry (Apicurio: "
        ".../apis/ccompat/v7); unset: Schema Registry mode is off, records stay single-object "
        "encoded.",
    )
    username: str | None = Field(None, description="Basic auth user (set with the password).")
    password: SecretStr | None = Field(None, description="Basic auth password.")
    bearer_token: SecretStr | None = Field(
        None, description="Bearer token sent instead of basic auth."
    )
    ca_file: Path | None = Field(
        None, description="CA bundle that signed the registry's TLS certificate (https)."
    )
    timeout_s: float = Field(
        5.0, gt=0, description="Longest wait for the registry to answer one request (s)."
    )
    unknown_id_retry_s: float = Field(
        30.0,
        ge=0,
        description="How long a schema id the registry did not know is answered as unknown "
        "without asking again (s).",
    )
    unavailable_retry_s: float = Field(
        5.0,
        ge=0,
        description="After the registry failed to answer, how long look-ups of new schema ids "
        "fail at once instead of waiting again (s); doubled with each further failure in a "
        "row, up to UNAVAILABLE_RETRY_MAX_S, and back to this after an answer.",
    )
    unavailable_retry_max_s: float = Field(
        60.0,
        ge=0,
        description="Longest that fail-fast window grows to while the registry stays down (s): "
        "a registry that is back is noticed within this (never less than "
        "UNAVAILABLE_RETRY_S).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            # A URL is printed (nurture config) and logged; the secret settings are not.
            raise ValueError(
                "put the credentials in NURTURE_SCHEMA_REGISTRY_USERNAME and _PASSWORD (or "
                "_BEARER_TOKEN), not in the URL"
            )
        return value

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both USERNAME and PASSWORD")
        if self.bearer_token is not None and self.username is not None:
            raise ValueError("set basic auth (USERNAME, PASSWORD) or BEARER_TOKEN, not both")
        return self

    @property
    def enabled(self) -> bool:
        """True when records are to be written in the Confluent wire format."""
        return self.url is not None

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What httpx verifies the registry's certificate with: the CA file's context, else the
        system's trust store (True)."""
        if self.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_file))


@lru_cache(maxsize=1)
def load_schema_registry_settings() -> SchemaRegistrySettings:
    """The process's settings, loaded once from the environment."""
    return SchemaRegistrySettings()
