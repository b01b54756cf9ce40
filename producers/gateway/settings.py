"""Settings of the HTTP ingestion gateway (``nurture gateway``), loaded once per process.

One frozen model read from ``NURTURE_GATEWAY_*`` environment variables (Kafka connection and
security come from :class:`schemas.settings.KafkaSettings`, producer batching from
:class:`producers.settings.ProducerSettings`). API keys are :class:`pydantic.SecretStr`: they
never reach a log, a repr or an error message.

Environment variables (all optional):

===========================================  ===================================================
``NURTURE_GATEWAY_HOST``                     interface to listen on (``127.0.0.1``)
``NURTURE_GATEWAY_PORT``                     TCP port (8080)
``NURTURE_GATEWAY_API_KEYS``                 ``source=KEY`` pairs, comma-separated, e.g.
                                             ``career-site=k1,ats=k2``; a source may appear
                                             twice (key rotation)
``NURTURE_GATEWAY_API_KEYS_FILE``            file with one ``source=KEY`` per line (``#``
                                             comments); merged with the variable above
``NURTURE_GATEWAY_MAX_EVENT_BYTES``          largest event, JSON bytes (32768)
``NURTURE_GATEWAY_MAX_BATCH_BYTES``          largest request body, bytes (512000)
``NURTURE_GATEWAY_MAX_BATCH_EVENTS``         most events per request (500)
``NURTURE_GATEWAY_RATE_LIMIT_EVENTS_PER_S``  sustained events per second per API key (2000)
``NURTURE_GATEWAY_RATE_LIMIT_BURST``         token bucket size, events (10000); must hold
                                             at least one full batch
``NURTURE_GATEWAY_RATE_LIMITS``              per-source limits for each key of that source,
                                             ``source=EVENTS_PER_S[/BURST]``, comma-separated,
                                             e.g. ``ats=200,career-site=5000/20000`` (burst
                                             left out: 5 s worth, at least one full batch)
``NURTURE_GATEWAY_DEDUP_WINDOW_S``           how long an accepted event_id is remembered (86400)
``NURTURE_GATEWAY_DEDUP_MAX_IDS``            most event ids remembered; the oldest are
                                             forgotten first beyond it (1000000, ~150 MB)
``NURTURE_GATEWAY_DEDUP_SHARED``             share accepted ids with every gateway process
                                             through Kafka (true; false: per process)
``NURTURE_GATEWAY_VALIDATION``               ``codec`` (Avro types, ids, event type; fast) or
                                             ``model`` (pydantic contract: URLs, blank text too)
``NURTURE_GATEWAY_PRODUCER``                ``aiokafka`` (on the event loop; default) or
                                             ``kafka-python`` (the SDK producer on a thread)
``NURTURE_GATEWAY_ACK_TIMEOUT_S``            longest wait for Kafka's acks=all per request (10)
``NURTURE_GATEWAY_RETRY_AFTER_S``            Retry-After sent with 503 (5)
``NURTURE_GATEWAY_READINESS_TIMEOUT_S``      how long /readyz waits for a metadata answer (2)
``NURTURE_DELIVERY_TRACKING_SECRET``         HMAC key of the e-mail link tokens that the
                                             tracking endpoints (``/t/...``) check (secret;
                                             the delivery consumer's variable, so both share
                                             it; weak keys refused); unset: the key in
``NURTURE_DELIVERY_TRACKING_SECRET_FILE``    (made with a random key on first use; default
                                             ``~/.local/share/candidate-nurture/tracking-secret``,
                                             see schemas/tracking_secret.py)
===========================================  ===================================================
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.errors import ConfigError

Validation = Literal["codec", "model"]
ProducerClient = Literal["aiokafka", "kafka-python"]

#: Source names are also metric labels and Kafka header values: keep them short and plain.
_SOURCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class ApiKey(BaseModel):
    """One configured key: the source system it belongs to and the secret itself."""

    model_config = ConfigDict(frozen=True)

    source: str
    secret: SecretStr


class RateLimit(BaseModel):
    """A token bucket's refill rate (events/s) and size (events; None: the default)."""

    model_config = ConfigDict(frozen=True)

    events_per_s: float = Field(gt=0)
    burst: int | None = Field(None, ge=1)


def parse_rate_limits(text: str, *, where: str) -> dict[str, RateLimit]:
    """``source=EVENTS_PER_S[/BURST]`` pairs separated by commas; :class:`ConfigError` if bad."""
    limits: dict[str, RateLimit] = {}
    for number, raw in enumerate(text.split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        source, sep, value = (part.strip() for part in item.partition("="))
        rate, _, burst = value.partition("/")
        try:
            limit = RateLimit(events_per_s=float(rate), burst=int(burst) if burst else None)
        except ValueError as exc:  # also pydantic's ValidationError
            raise ConfigError(
                f"{where}: entry {number} is not 'source=EVENTS_PER_S[/BURST]' with positive "
                f"numbers: {item!r}"
            ) from exc
        if not sep or not source:
            raise ConfigError(f"{where}: entry {number} is not 'source=EVENTS_PER_S[/BURST]'")
        limits[source] = limit
    return limits


def parse_api_keys(text: str, *, where: str) -> list[ApiKey]:
    """``source=KEY`` pairs separated by commas or new lines; ``#`` starts a comment line.

    Raises :class:`ConfigError` naming the line (never the key) when a pair is malformed.
    """
    keys: list[ApiKey] = []
    items = [item for line in text.splitlines() for item in line.split(",")]
    for number, raw in enumerate(items, start=1):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        source, sep, secret = item.partition("=")
        source, secret = source.strip(), secret.strip()
        if not sep or not source or not secret:
            raise ConfigError(f"{where}: entry {number} is not 'source=KEY'")
        if not set(source) <= _SOURCE_CHARS:
            raise ConfigError(f"{where}: source {source!r} may only use a-z, 0-9, '-', '_' and '.'")
        if len(secret) < 16:
            raise ConfigError(f"{where}: the key of source {source!r} is shorter than 16 chars")
        keys.append(ApiKey(source=source, secret=SecretStr(secret)))
    return keys


class GatewaySettings(BaseSettings):
    """Everything the gateway process needs besides Kafka's address (see module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="NURTURE_GATEWAY_", frozen=True, extra="ignore", populate_by_name=True
    )

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port).")
    api_keys: Annotated[tuple[ApiKey, ...], NoDecode] = Field(
        (), description="API keys per source system ('source=KEY,...')."
    )
    api_keys_file: Path | None = Field(None, description="File of 'source=KEY' lines.")
    max_event_bytes: int = Field(32 * 1024, ge=256, description="Largest event, JSON bytes.")
    max_batch_bytes: int = Field(500 * 1024, ge=1024, description="Largest body, bytes.")
    max_batch_events: int = Field(500, ge=1, description="Most events per request.")
    rate_limit_events_per_s: float = Field(2000.0, gt=0, description="Per key, events/s.")
    rate_limit_burst: int = Field(10_000, ge=1, description="Token bucket size, events.")
    rate_limits: Annotated[dict[str, RateLimit], NoDecode] = Field(
        {}, description="Per-source limits of each key ('source=EVENTS_PER_S[/BURST],...')."
    )
    dedup_window_s: float = Field(24 * 3600.0, ge=0, description="Remember ids this long, s.")
    dedup_max_ids: int = Field(1_000_000, ge=1, description="Most remembered event ids.")
    dedup_shared: bool = Field(True, description="Share accepted ids with other gateways.")
    validation: Validation = Field("codec", description="Event validation depth.")
    producer: ProducerClient = Field("aiokafka", description="Kafka client that publishes.")
    ack_timeout_s: float = Field(10.0, gt=0, description="Longest wait for acks=all, s.")
    retry_after_s: int = Field(5, ge=1, description="Retry-After of 503 answers, s.")
    readiness_timeout_s: float = Field(2.0, gt=0, description="/readyz metadata timeout, s.")
    #: Read from the delivery consumer's variable: one secret signs (consumer) and checks (here).
    tracking_secret: SecretStr | None = Field(
        None,
        validation_alias="NURTURE_DELIVERY_TRACKING_SECRET",
        description="HMAC key of e-mail link tokens (shared with the delivery consumer).",
    )
    tracking_secret_file: Path | None = Field(
        None,
        validation_alias="NURTURE_DELIVERY_TRACKING_SECRET_FILE",
        description="File of that key, made on first use (schemas.tracking_secret).",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(parse_api_keys(value, where="NURTURE_GATEWAY_API_KEYS"))
        if isinstance(value, dict):  # {"career-site": "KEY"} from code
            text = ",".join(f"{k}={_plain(v)}" for k, v in value.items())
            return tuple(parse_api_keys(text, where="api_keys"))
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_rate_limits(value, where="NURTURE_GATEWAY_RATE_LIMITS")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GatewaySettings:
        bursts = {"rate_limit_burst": self.rate_limit_burst} | {
            f"the burst of {source}": limit.burst
            for source, limit in self.rate_limits.items()
            if limit.burst is not None
        }
        for name, burst in bursts.items():
            if burst < self.max_batch_events:
                raise ValueError(
                    f"{name} ({burst}) must hold one full batch "
                    f"(max_batch_events={self.max_batch_events}), or big batches could never pass"
                )
        if self.max_event_bytes > self.max_batch_bytes:
            raise ValueError("max_event_bytes must not exceed max_batch_bytes")
        return self

    def rate_limit_of(self, source: str) -> tuple[float, int]:
        """``(events per second, burst)`` of each key of ``source``."""
        limit = self.rate_limits.get(source)
        if limit is None:
            return self.rate_limit_events_per_s, self.rate_limit_burst
        burst = limit.burst or max(self.max_batch_events, math.ceil(5 * limit.events_per_s))
        return limit.events_per_s, burst

    def all_api_keys(self) -> list[ApiKey]:
        """The keys from the variable and from ``api_keys_file`` (read now, at start-up)."""
        keys = list(self.api_keys)
        if self.api_keys_file is not None:
            try:
                text = self.api_keys_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot read API keys file {self.api_keys_file}: {exc}") from exc
            keys.extend(parse_api_keys(text, where=str(self.api_keys_file)))
        return keys


def _plain(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


@lru_cache(maxsize=1)
def load_gateway_settings() -> GatewaySettings:
    """The process-wide gateway settings from the environment."""
    return GatewaySettings()
