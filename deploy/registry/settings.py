"""Settings of the local schema registry (`nurture registry ...`).

It always listens on the loopback interface: it is a development registry (in-memory storage,
no authentication), never one to share.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_cache_path, user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError

APP_DIR_NAME = "candidate-nurture"
#: The only address the registry binds (its HTTP API and its management interface).
LOOPBACK = "127.0.0.1"
#: Where the Confluent-compatible API lives on the registry (Schema Registry API v7).
CCOMPAT_PATH = "/apis/ccompat/v7"
#: Hosts that name this machine: a Schema Registry mode URL on one of them is the local registry,
#: which `nurture up` starts on the URL's port.
LOCAL_HOSTS = frozenset({LOOPBACK, "localhost"})


def default_data_dir() -> Path:
    return user_data_path(APP_DIR_NAME) / "schema-registry"


def default_cache_dir() -> Path:
    return user_cache_path(APP_DIR_NAME) / "apicurio-registry"


class RegistrySettings(BaseSettings):
    """Where and how the local Apicurio Registry runs."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_REGISTRY_", frozen=True, extra="ignore")

    port: int = Field(
        8081, ge=1, le=65535, description="HTTP port of the registry's API (on 127.0.0.1)."
    )
    management_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of its management interface: health, metrics (the port + 1 when unset).",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Its pid file and log (the schemas themselves are kept in memory only).",
    )
    cache: Path = Field(
        default_factory=default_cache_dir,
        description="Where the downloaded release is kept, shared by every checkout.",
    )
    java_home: Path | None = Field(
        None,
        description="The Java 21+ to run it with (unset: JAVA_HOME, else the newest JDK 21+ "
        "under /usr/lib/jvm, else `java` on PATH).",
    )
    heap: str = Field("512m", description="JVM heap (-Xmx).")
    start_timeout_s: float = Field(
        120.0, gt=0, description="Longest wait for a started registry to answer its API (s)."
    )
    stop_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Longest wait for a stopped registry to exit before it is killed (s).",
    )

    @property
    def management(self) -> int:
        return self.management_port or self.port + 1

    @property
    def url(self) -> str:
        """The Confluent-compatible API: what a Confluent serializer's ``schema.registry.url``
        takes."""
        return f"http://{LOOPBACK}:{self.port}{CCOMPAT_PATH}"


def local_registry_for(url: str | None) -> RegistrySettings | None:
    """The local registry the Schema Registry mode's URL (``NURTURE_SCHEMA_REGISTRY_URL``) names,
    for `nurture up` to start: None when the mode is off or the URL is not on this machine.

    A URL on this machine must be exactly the local registry's Confluent-compatible API,
    ``http://<host>:<port>/apis/ccompat/v7``: anything else there (the base URL
    ``http://127.0.0.1:8081``, whose every request Apicurio answers with 404, another path,
    https, no port) is a :class:`ConfigError` naming the URL to set. It is not taken in its
    place: the pipeline's processes, and every `nurture` command run beside them, read the
    variable as it is, so a corrected copy in `nurture up` alone would hide the mistake.
    """
    if url is None:
        return None
    where = urlsplit(url)
    if where.hostname not in LOCAL_HOSTS:
        return None
    settings = RegistrySettings(port=where.port) if where.port else RegistrySettings()
    expected = f"http://{where.hostname}:{settings.port}{CCOMPAT_PATH}"
    if url.rstrip("/") != expected:
        raise ConfigError(
            f"NURTURE_SCHEMA_REGISTRY_URL={url} is on this machine, where `nurture up` runs the "
            f"local registry, but is not its Confluent-compatible API: set it to {expected}"
        )
    return settings
