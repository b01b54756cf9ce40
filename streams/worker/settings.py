"""Settings of the stream worker (`nurture worker`): one frozen model, loaded once per process.

:class:`WorkerSettings` holds a group per concern, each a frozen settings model of its own:
``kafka`` (fetching, batching, committing, the group), ``store`` (the tables), ``clock`` (what
drives campaign timers), ``campaigns`` and ``erasure``; the variables keep their flat
``NURTURE_WORKER_*`` names.

Environment variables (all optional; CLI flags of `nurture worker` override them):

===================================  ==============================================================
``NURTURE_WORKER_APP_ID``            faust app id = consumer group; prefixed with the topic prefix
                                     (``nurture-worker``)
``NURTURE_WORKER_STORE``             table storage: ``rocksdb://`` (RocksDB through rocksdict) or
                                     ``memory://`` (tests; state rebuilt from the changelog)
``NURTURE_WORKER_DATA_DIR``          local RocksDB stores (``<user data dir>/worker``)
``NURTURE_WORKER_WEB_HOST``          host other workers and `nurture score` reach this one at
                                     (``127.0.0.1``)
``NURTURE_WORKER_WEB_PORT``          HTTP port of the worker (6066)
``NURTURE_WORKER_MODEL_PATH``        scoring model YAML (the packaged default model when unset)
``NURTURE_WORKER_CAMPAIGNS_PATH``    campaign definitions folder or file (the shipped campaigns)
``NURTURE_WORKER_CAMPAIGNS``         ``false``: score only (no campaign engine, actions or timers)
``NURTURE_WORKER_CATALOG_PATH``      content catalog folder or file (the shipped catalog)
``NURTURE_WORKER_BATCH_SIZE``        events per processing batch (1000)
``NURTURE_WORKER_BATCH_WITHIN_S``    longest wait to fill a batch, seconds (0.05)
``NURTURE_WORKER_COMMIT_INTERVAL_S`` offset commit interval, seconds (1.0)
``NURTURE_WORKER_LINGER_MS``         producer linger, ms (0: the worker hands the producer whole
                                     batches per partition, so lingering only adds latency)
``NURTURE_WORKER_PRODUCER_BATCH``    producer batch size, bytes (1 MiB)
``NURTURE_WORKER_MAX_RECORD_BYTES``  largest value of an input record, bytes (65536: events are
                                     under 2 KB, the gateway caps them at 32 KB); a larger one
                                     is dead-lettered before it is decoded
``NURTURE_WORKER_STALL_TIMEOUT_S``   liveness: seconds without commit progress while records are
                                     waiting before the worker exits non-zero (120)
``NURTURE_WORKER_FETCH_MIN_BYTES``   bytes a consumer fetch waits for (65536)
``NURTURE_WORKER_FETCH_MAX_WAIT_MS`` longest a fetch waits for them, ms (20)
``NURTURE_WORKER_SESSION_TIMEOUT_S`` group session timeout: a killed worker's partitions move
                                     to the others after this many seconds (10)
``NURTURE_WORKER_GROUP_INSTANCE_ID`` static group membership (Kafka ``group.instance.id``): a
                                     stable name per worker (e.g. the pod name); a restarted
                                     worker with the same name gets its partitions back without a
                                     rebalance (unset: dynamic membership)
``NURTURE_WORKER_LOG_LEVEL``         ``info``, ``warning``, ... (``warning``)
``NURTURE_WORKER_INGEST``            ``batch`` (default: activity records go from faust's consumer
                                     to the processor in whole fetches) or ``stream`` (faust's
                                     per-event stream and ``take_events``; ~4x slower)
``NURTURE_WORKER_CLOCK``             what drives campaign timers: ``wall`` (live, default) or
                                     ``stream`` (each partition's latest event time: replays)
``NURTURE_WORKER_TIMER_INTERVAL_S``  how often wall-clock timers are checked, seconds (5)
``NURTURE_WORKER_ERASURE_SECRET``    HMAC key of erased-candidate markers; the same for every
                                     worker (default: generated into ``ERASURE_SECRET_FILE``,
                                     ``<user data dir>/worker-erasure.key``)
===================================  ==============================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.settings import GroupedSettings, SettingsGroup

StoreUrl = Literal["rocksdb://", "memory://"]

#: Largest input record value the worker decodes (bytes): events are under 2 KB and the gateway
#: caps them at 32 KB, so anything near this is a mistake, not an event.
DEFAULT_MAX_RECORD_BYTES = 64 * 1024
#: The variables' prefix; a group whose variables share a longer one declares that.
PREFIX = "NURTURE_WORKER_"


def _config(prefix: str = PREFIX) -> SettingsConfigDict:
    """Frozen, by field name in code (``validate_by_name``) and by variable in the environment;
    an unknown keyword in code is an error, an unknown variable is not."""
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="forbid", validate_by_name=True)


class WorkerKafkaSettings(SettingsGroup):
    """How the worker fetches, batches, produces and commits, and how it joins its group."""

    model_config = _config()

    batch_size: int = Field(
        5000,
        ge=1,
        description="Most events per processing batch (records per fetch). A steady stream "
        "arrives in small fetches anyway; under backlog larger batches spread each batch's "
        "two Kafka round trips and local write over more events.",
    )
    batch_within_s: float = Field(0.05, gt=0, description="Longest wait to fill a batch (s).")
    commit_interval_s: float = Field(1.0, gt=0, description="Offset commit interval (s).")
    linger_ms: int = Field(0, ge=0, description="Producer linger (ms).")
    producer_batch: int = Field(1 << 20, ge=1024, description="Producer batch size (bytes).")
    fetch_min_bytes: int = Field(
        64 * 1024, ge=1, description="Bytes a fetch waits for (fewer, fuller fetches)."
    )
    fetch_max_wait_ms: int = Field(
        20, ge=0, le=1500, description="Longest a fetch waits for fetch_min_bytes (ms)."
    )
    session_timeout_s: float = Field(
        10.0,
        ge=6.0,
        description="Kafka group session timeout (s): how soon a dead worker's "
        "partitions move (the broker's group.min.session.timeout.ms is 6 s by default).",
    )
    group_instance_id: str | None = Field(
        None,
        min_length=1,
        description="Static group membership (group.instance.id): a stable, unique name per "
        "worker. A worker restarted within the session timeout rejoins with its partitions "
        "and no rebalance; one that stops for good keeps them unassigned until the session "
        "timeout (no leave-group request). Unset: dynamic membership.",
    )


class StoreSettings(SettingsGroup):
    """Where the worker keeps its tables, and how many standby copies other workers keep."""

    model_config = _config()

    url: StoreUrl = Field(
        "rocksdb://", validation_alias=f"{PREFIX}STORE", description="Table storage."
    )
    data_dir: Path = Field(
        default_factory=lambda: user_data_path("candidate-nurture") / "worker",
        description="Directory of the local stores (default: the user data dir, not the cwd).",
    )
    standby_replicas: int = Field(
        1,
        ge=0,
        description="Standby copies of each table partition kept by other workers of the "
        "group (faust's default 1: a failover resumes at once, but every worker also reads the "
        "others' changelog; 0: less CPU per event, but a failover first recovers the table "
        "from the changelog).",
    )


class ClockSettings(SettingsGroup):
    """What drives campaign timers, and how often wall-clock timers are checked."""

    model_config = _config()

    source: Literal["wall", "stream"] = Field(
        "wall",
        validation_alias=f"{PREFIX}CLOCK",
        description="What drives campaign timers: wall-clock time (live) or each partition's "
        "stream time, the latest event time seen (replays: deterministic).",
    )
    timer_interval_s: float = Field(
        5.0, gt=0, description="How often wall-clock timers are checked (s)."
    )


class CampaignSettings(SettingsGroup):
    """Whether the campaign engine runs, and the campaigns and content it reads."""

    model_config = _config()

    enabled: bool = Field(
        True,
        validation_alias=f"{PREFIX}CAMPAIGNS",
        description="Run the campaign engine (False: score only, no actions, no timers).",
    )
    path: Path | None = Field(
        None,
        validation_alias=f"{PREFIX}CAMPAIGNS_PATH",
        description="Campaign definitions folder or file (shipped campaigns if None).",
    )
    catalog_path: Path | None = Field(
        None, description="Content catalog folder or file (shipped catalog if None)."
    )


class ErasureSettings(SettingsGroup):
    """The key of the erased-candidate markers."""

    model_config = _config(f"{PREFIX}ERASURE_")

    secret: SecretStr | None = Field(
        None,
        description="Key of the erased-candidate markers (HMAC); default: a per-install file.",
    )
    secret_file: Path = Field(
        default_factory=lambda: user_data_path("candidate-nurture") / "worker-erasure.key",
        description="Where the generated erasure secret is kept when none is set.",
    )


class WorkerSettings(GroupedSettings):
    """How one stream worker process runs; see the module docstring for the variables."""

    model_config = _config()

    app_id: str = Field("nurture-worker", min_length=1, description="Consumer group / app id.")
    web_host: str = Field("127.0.0.1", description="Host this worker's web server is reached at.")
    web_port: int = Field(6066, ge=1, le=65535, description="HTTP port of this worker.")
    model_path: Path | None = Field(None, description="Scoring model file (default model if None).")
    max_record_bytes: int = Field(
        DEFAULT_MAX_RECORD_BYTES,
        ge=1024,
        description="Largest value of a candidate.activity or candidate.profile record (bytes); "
        "a larger one is dead-lettered (RecordTooLargeError) without being decoded.",
    )
    stall_timeout_s: float = Field(120.0, gt=0, description="Liveness: max commit stall (s).")
    log_level: str = Field("warning", description="Log level of the worker.")
    ingest: Literal["batch", "stream"] = Field(
        "batch",
        description="How activity records reach the processor: whole fetches straight from "
        "faust's consumer (batch), or faust's per-event stream (stream, slower).",
    )
    kafka: WorkerKafkaSettings = Field(default_factory=WorkerKafkaSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    erasure: ErasureSettings = Field(default_factory=ErasureSettings)

    def faust_app_id(self, topic_prefix: str) -> str:
        """The app id as faust sees it: prefixed, so internal topics follow the topic prefix."""
        return f"{topic_prefix}{self.app_id}"

    @property
    def web_url(self) -> str:
        """The URL other workers route table requests to (faust's ``canonical_url``)."""
        return f"http://{self.web_host}:{self.web_port}"
