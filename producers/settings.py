"""Settings of the producer SDK: batching, compression, timeouts and the default source.

One frozen model, loaded once per process from ``NURTURE_PRODUCER_*`` environment variables
(connection and security settings come from :class:`schemas.settings.KafkaSettings`).

Environment variables (all optional):

========================================  ==============================================
``NURTURE_PRODUCER_CLIENT_ID``            Kafka client id (``nurture-producer``)
``NURTURE_PRODUCER_SOURCE``               source system stamped on erasure requests and
                                          used as ``nurture-source`` header fallback (``sdk``)
``NURTURE_PRODUCER_LINGER_MS``            wait up to this long to fill a batch (5 ms)
``NURTURE_PRODUCER_BATCH_SIZE``           bytes per partition batch (65536)
``NURTURE_PRODUCER_COMPRESSION``          auto, none, gzip, snappy, lz4 or zstd (auto: the
                                          first of lz4, zstd, snappy, gzip whose library
                                          is installed; see :meth:`compression_type`)
``NURTURE_PRODUCER_DELIVERY_TIMEOUT_S``   give up on a record not acknowledged after this
                                          long and fail its future (30 s)
``NURTURE_PRODUCER_REQUEST_TIMEOUT_MS``   wait this long for one produce request (10000 ms)
``NURTURE_PRODUCER_MAX_BLOCK_MS``         longest a ``send`` blocks for metadata or buffer
                                          space, and the bootstrap timeout (10000 ms)
``NURTURE_PRODUCER_DICT_VALIDATION``       how events given as dicts are checked: codec
                                          (Avro types and required ids, fast) or model
                                          (full pydantic model); see producers/records.py
``NURTURE_PRODUCER_MAX_IN_FLIGHT``        unacknowledged requests per connection (5, the
                                          most idempotence allows while keeping order)
========================================  ==============================================

``acks=all`` and idempotence are not settings: the SDK always uses them (no silent loss, no
duplicates from its own retries, per-candidate order kept).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Literal

from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Compression = Literal["auto", "none", "gzip", "snappy", "lz4", "zstd"]

_AVAILABLE = {"gzip": has_gzip, "snappy": has_snappy, "lz4": has_lz4, "zstd": has_zstd}
#: Preference of ``compression="auto"``: cheapest on CPU first. gzip comes last but still beats
#: none: measured with kafka-python against the local broker, gzip-compressed 64 KB batches of
#: activity events send ~40% more records/s than uncompressed ones (fewer bytes to push through
#: kafka-python's pure-Python network layer), although it compresses at level 9.
_AUTO_ORDER = ("lz4", "zstd", "snappy", "gzip")


class ProducerSettings(BaseSettings):
    """How the SDK's Kafka producer batches, compresses and times out (see module docstring)."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_PRODUCER_", frozen=True, extra="ignore")

    client_id: str = Field("nurture-producer", min_length=1)
    source: str = Field("sdk", min_length=1, description="Default source system name.")
    linger_ms: int = Field(5, ge=0, description="Batching delay in milliseconds.")
    batch_size: int = Field(64 * 1024, ge=1024, description="Batch size per partition, bytes.")
    compression: Compression = "auto"
    delivery_timeout_s: float = Field(30.0, gt=0, description="Ack deadline per record, seconds.")
    request_timeout_ms: int = Field(10_000, ge=100, description="Per produce request, ms.")
    max_block_ms: int = Field(10_000, ge=0, description="Longest blocking send/bootstrap, ms.")
    max_in_flight: int = Field(5, ge=1, le=5, description="In-flight requests per connection.")
    dict_validation: Literal["codec", "model"] = "codec"

    @model_validator(mode="after")
    def _consistent(self) -> ProducerSettings:
        if self.delivery_timeout_s * 1000 < self.linger_ms + self.request_timeout_ms:
            raise ValueError(
                "delivery_timeout_s must cover linger_ms + request_timeout_ms "
                f"({self.linger_ms} + {self.request_timeout_ms} ms)"
            )
        if self.compression not in ("auto", "none") and not _AVAILABLE[self.compression]():
            raise ValueError(
                f"compression {self.compression!r} needs a library that is not installed"
            )
        return self

    def compression_type(
        self, available: Mapping[str, Callable[[], bool]] = _AVAILABLE
    ) -> str | None:
        """The ``compression_type`` for a client whose codecs are ``available``; None: none.

        ``available`` maps codec names to the client's own "is the library installed" checks
        (kafka-python's by default; the gateway passes aiokafka's). ``auto`` picks the first of
        lz4, zstd, snappy, gzip the client has, or none. Raises :class:`ValueError` when the
        chosen codec is missing there.
        """
        if self.compression == "none":
            return None
        if self.compression != "auto":
            if not available[self.compression]():
                raise ValueError(f"compression {self.compression!r} needs a missing library")
            return self.compression
        return next((name for name in _AUTO_ORDER if available[name]()), None)

    def kafka_python_config(self) -> dict[str, object]:
        """Producer keyword arguments (:func:`schemas.kafka_seam.clients.producer` adds more)."""
        return {
            "client_id": self.client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": self.linger_ms,
            "batch_size": self.batch_size,
            "compression_type": self.compression_type(),
            "delivery_timeout_ms": int(self.delivery_timeout_s * 1000),
            "request_timeout_ms": self.request_timeout_ms,
            "max_block_ms": self.max_block_ms,
            "bootstrap_timeout_ms": self.max_block_ms,
            "max_in_flight_requests_per_connection": self.max_in_flight,
        }


@lru_cache(maxsize=1)
def load_producer_settings() -> ProducerSettings:
    """The process-wide producer settings from the environment."""
    return ProducerSettings()
