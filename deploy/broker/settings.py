"""Settings of the local broker (`nurture broker ...`).

=================================  =============================================================
``NURTURE_BROKER_SECURE``          SASL_SSL (SCRAM-SHA-512 + TLS) listener instead of PLAINTEXT
                                   (false); see ``deploy/broker/secure.py``
``NURTURE_BROKER_PORT``            listener port (9092; 9094 when secure; a cluster's first,
                                   19092)
``NURTURE_BROKER_CONTROLLER_PORT`` KRaft controller port (the listener port + 1 when unset; a
                                   cluster's first: the listener port + 100)
``NURTURE_BROKER_DATA_DIR``        data, config, pid and log (``<user data dir>/kafka``;
                                   ``<user data dir>/kafka-secure`` when secure)
``NURTURE_BROKER_NODES``           brokers (1; up to 5): more than one is a KRaft cluster on this
                                   host, each node broker and controller, listeners on the port,
                                   port+1, ...; controllers from port+100 (``cluster.py``),
                                   data in ``NURTURE_BROKER_CLUSTER_DATA_DIR``
``NURTURE_BROKER_CLUSTER_DATA_DIR`` a cluster's data dir (``<user data dir>/kafka-cluster``)
``NURTURE_BROKER_HEAP``            JVM heap (``1g``; ``512m`` per node of a cluster)
``NURTURE_KAFKA_CACHE``            where the jars are cached (``<user cache dir>/kafka``)
=================================  =============================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from platformdirs import user_cache_path, user_data_path
from pydantic import Field, TypeAdapter, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_DIR_NAME = "candidate-nurture"
#: Where the secure broker listens unless told otherwise: beside the dev broker (9092, 9093).
SECURE_PORT = 9094
#: Where a cluster's first broker listens unless told otherwise (its controllers from 19192):
#: beside the dev and the secure broker.
CLUSTER_PORT = 19092
#: Where a cluster's controller ports start, past its listener ports (BASE+100).
CLUSTER_CONTROLLER_OFFSET = 100
MAX_PORT = 65535

_T = TypeVar("_T")


def default_data_dir() -> Path:
    return user_data_path(APP_DIR_NAME) / "kafka"


def default_secure_data_dir() -> Path:
    return user_data_path(APP_DIR_NAME) / "kafka-secure"


def default_cluster_data_dir() -> Path:
    return user_data_path(APP_DIR_NAME) / "kafka-cluster"


def default_cache_dir() -> Path:
    return user_cache_path(APP_DIR_NAME) / "kafka"


def _parsed(kind: type[_T], value: object, invalid: _T) -> _T:
    """``value`` as ``kind``, or ``invalid`` when it is not one: the field's own validation then
    refuses it, naming the setting (an error raised here would name none)."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return invalid


class BrokerSettings(BaseSettings):
    """Where and how the local broker runs."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_BROKER_", frozen=True, extra="ignore")

    secure: bool = False
    host: str = Field("127.0.0.1", description="Address the listener binds and clients reach.")
    port: int = Field(9092, ge=1, le=65535)
    controller_port: int | None = Field(None, ge=1, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    nodes: int = Field(1, ge=1, le=5)
    #: A cluster's data dir (its ``data_dir`` whenever ``nodes`` > 1): its own setting, so a
    #: single broker's ``NURTURE_BROKER_DATA_DIR`` never lands a cluster in that broker's dir.
    cluster_data_dir: Path = Field(default_factory=default_cluster_data_dir)
    heap: str = "1g"
    start_timeout_s: float = Field(
        90.0, description="Longest wait for a started broker to answer metadata (s)."
    )
    stop_timeout_s: float = Field(
        60.0, description="Longest wait for a stopped broker to exit before it is killed (s)."
    )

    @model_validator(mode="before")
    @classmethod
    def _secure_defaults(cls, data: Any) -> Any:
        """A secure broker, and a cluster, get their own data dir (and the secure broker its
        own port) unless given, so each can run beside the others' data."""
        if not isinstance(data, dict):
            return data
        if _parsed(int, data.get("nodes", 1), 1) > 1:
            cluster_dir = data.get("cluster_data_dir") or default_cluster_data_dir()
            return {"port": CLUSTER_PORT, "heap": "512m", **data, "data_dir": cluster_dir}
        if not _parsed(bool, data.get("secure", False), False):
            return data
        return {"port": SECURE_PORT, "data_dir": default_secure_data_dir(), **data}

    @model_validator(mode="after")
    def _one_kind(self) -> BrokerSettings:
        if self.secure and self.nodes > 1:
            raise ValueError("a secure cluster is not supported: --secure runs one node")
        controllers = self.controller_port or self.port + CLUSTER_CONTROLLER_OFFSET
        last = max(self.port, controllers) + (self.nodes - 1)
        if self.nodes > 1 and last > MAX_PORT:
            raise ValueError(f"--port {self.port}: the cluster's ports would pass {MAX_PORT}")
        return self

    @property
    def controller(self) -> int:
        return self.controller_port or self.port + 1

    @property
    def listener(self) -> str:
        return f"{self.host}:{self.port}"


class JarCacheSettings(BaseSettings):
    """The jar cache, shared by every checkout (kept outside the repository)."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_KAFKA_", frozen=True, extra="ignore")

    cache: Path = Field(default_factory=default_cache_dir)
