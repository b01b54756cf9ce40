"""Settings of a delivery consumer (`nurture deliver`): one frozen model, loaded once per process.

:class:`DeliverySettings` holds a group per concern, each a frozen settings model of its own:
``kafka`` (polling and liveness), ``retry``, ``rate``, ``smtp``, ``email``, ``webhook`` and
``tracking``; the variables keep their flat ``NURTURE_DELIVERY_*`` names.

Environment variables (all optional; `nurture deliver` flags override some):

======================================  ===========================================================
``NURTURE_DELIVERY_DATA_DIR``           directory of the delivery store (``./var/delivery``)
``NURTURE_DELIVERY_GROUP_PREFIX``       consumer group prefix; the group is
                                        ``<topic prefix><group prefix>-<channel>``
                                        (``nurture-delivery``)
``NURTURE_DELIVERY_WEBHOOKS``           JSON object of endpoint name -> URL, e.g.
                                        ``{"crm": "https://crm.example/hooks/nurture"}``
``NURTURE_DELIVERY_WEBHOOK_SECRET``     HMAC-SHA256 key that signs webhook bodies (secret, shared
                                        with the receivers; at least 16 characters,
                                        placeholders refused); unset: the key in the file below
``NURTURE_DELIVERY_WEBHOOK_SECRET_FILE`` file holding that key, made with a random key on first
                                        use (``~/.local/share/candidate-nurture/webhook-secret``)
``NURTURE_DELIVERY_AD_AUDIENCE_ENDPOINT``   endpoint name for ``ad_audience`` (``ad_audience``)
``NURTURE_DELIVERY_RECRUITER_ALERT_ENDPOINT`` endpoint name for ``recruiter_alert``
                                        (``recruiter_alert``)
``NURTURE_DELIVERY_HTTP_TIMEOUT_S``     webhook request timeout, seconds (10)
``NURTURE_DELIVERY_POLL_TIMEOUT_MS``    longest wait of one poll, ms (500)
``NURTURE_DELIVERY_MAX_POLL_RECORDS``   most actions handled per poll batch and commit (100)
``NURTURE_DELIVERY_MAX_POLL_INTERVAL_S`` longest time between two polls before the group
                                        gives this process's partitions to another (300);
                                        a batch stops after half of it and the rest is
                                        fetched again
``NURTURE_DELIVERY_STALL_TIMEOUT_S``    exit with status 75 when offsets have not advanced for
                                        this long while actions wait, seconds (300)
``NURTURE_DELIVERY_LIVENESS_CHECK_S``   how often commit progress is checked, seconds (10)
``NURTURE_DELIVERY_RETRY_BASE_S``       first retry delay, doubled per attempt, seconds (30)
``NURTURE_DELIVERY_RETRY_MAX_DELAY_S``  longest delay between two attempts, seconds (3600)
``NURTURE_DELIVERY_RETRY_HORIZON_S``    give up (dead-letter) this long after the first
                                        attempt, seconds (86400 = 24 h)
``NURTURE_DELIVERY_RATE_PER_S``         sends per second of this channel (10)
``NURTURE_DELIVERY_RATE_BURST``         sends allowed at once after a quiet spell (20)
``NURTURE_DELIVERY_SMTP_HOST``          SMTP server; unset: e-mails go to the local outbox only
``NURTURE_DELIVERY_SMTP_PORT``          SMTP port (587)
``NURTURE_DELIVERY_SMTP_SECURITY``      ``starttls``, ``tls`` (implicit, port 465) or ``none``
                                        (``starttls``)
``NURTURE_DELIVERY_SMTP_USERNAME``      SMTP login (none: no AUTH)
``NURTURE_DELIVERY_SMTP_PASSWORD``      SMTP password (secret)
``NURTURE_DELIVERY_SMTP_TIMEOUT_S``     SMTP socket timeout, seconds (30)
``NURTURE_DELIVERY_SMTP_IDLE_TIMEOUT_S`` close the kept SMTP connection after this long
                                        unused, seconds (60)
``NURTURE_DELIVERY_SMTP_MAX_MESSAGES``  messages per SMTP connection before a new one (100)
``NURTURE_DELIVERY_SMTP_CAFILE``        CA bundle to trust for the SMTP server's certificate
                                        (the system's when unset)
``NURTURE_DELIVERY_OUTBOX_DIR``         Maildir used when no SMTP host is set
                                        (``<data dir>/outbox``)
``NURTURE_DELIVERY_MAIL_FROM``          From address (``Talent Team <talent@example.org>``)
``NURTURE_DELIVERY_TEMPLATES_DIR``      e-mail templates (the packaged ``consumers/templates``)
``NURTURE_DELIVERY_GATEWAY_URL``        public base URL of the gateway's tracking endpoints
                                        (``http://127.0.0.1:8080``)
``NURTURE_DELIVERY_UNSUBSCRIBE_MAILTO`` address of mailto unsubscribes
                                        (``unsubscribe@example.org``)
``NURTURE_DELIVERY_TRACKING_SECRET``    HMAC key of link tokens (secret; shared with the gateway;
                                        at least 16 characters, placeholders refused); unset:
                                        the key in the file below
``NURTURE_DELIVERY_TRACKING_SECRET_FILE`` file holding that key, made with a random key on
                                        first use (``~/.local/share/candidate-nurture/``
                                        ``tracking-secret``); see schemas/tracking_secret.py
``NURTURE_DELIVERY_TOKEN_TTL_DAYS``     how long open-pixel and click links work, days (60)
``NURTURE_DELIVERY_UNSUBSCRIBE_TTL_DAYS`` how long unsubscribe links work, days (365: people
                                        unsubscribe from old mail, and must be able to)
``NURTURE_DELIVERY_METRICS_PORT``       port of the Prometheus ``/metrics`` endpoint (off)
``NURTURE_DELIVERY_METRICS_HOST``       address it listens on (``127.0.0.1``)
======================================  ===========================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.settings import GroupedSettings, SettingsGroup

#: The variables' prefix; a group whose variables share a longer one declares that.
PREFIX = "NURTURE_DELIVERY_"


def _config(prefix: str = PREFIX) -> SettingsConfigDict:
    """Frozen, by field name in code (``validate_by_name``) and by variable in the environment;
    an unknown keyword in code is an error, an unknown variable is not."""
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="forbid", validate_by_name=True)


class DeliveryKafkaSettings(SettingsGroup):
    """How the consumer polls, commits and watches its own progress."""

    model_config = _config()

    group_prefix: str = Field("nurture-delivery", min_length=1, description="Group prefix.")
    poll_timeout_ms: int = Field(500, ge=1, description="Longest wait of one poll (ms).")
    max_poll_records: int = Field(100, ge=1, description="Most actions per batch and commit.")
    max_poll_interval_s: float = Field(300.0, ge=2, description="Group's poll deadline (s).")
    stall_timeout_s: float = Field(300.0, gt=0, description="Exit 75 after no progress (s).")
    rebalance_limit_s: float = Field(
        30.0, gt=0, description="Leave and join the group again after a rebalance this long (s)."
    )
    liveness_check_s: float = Field(10.0, gt=0, description="Commit progress check period (s).")


class RetrySettings(SettingsGroup):
    """When a failed send is tried again, and when it is given up (dead-lettered)."""

    model_config = _config(f"{PREFIX}RETRY_")

    base_s: float = Field(30.0, gt=0, description="First retry delay (s), doubled.")
    max_delay_s: float = Field(3600.0, gt=0, description="Longest retry delay (s).")
    horizon_s: float = Field(86400.0, gt=0, description="Retry horizon (s).")


class RateSettings(SettingsGroup):
    """The channel's send rate (a token bucket)."""

    model_config = _config(f"{PREFIX}RATE_")

    per_s: float = Field(10.0, gt=0, description="Sends per second of this channel.")
    burst: int = Field(20, ge=1, description="Sends allowed at once.")


class SmtpSettings(SettingsGroup):
    """The SMTP server e-mails go to (none: the local Maildir outbox)."""

    model_config = _config(f"{PREFIX}SMTP_")

    host: str | None = Field(None, description="SMTP server; None: the local outbox.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0, description="SMTP socket timeout (s).")
    idle_timeout_s: float = Field(60.0, gt=0, description="Kept SMTP connection idle (s).")
    max_messages: int = Field(100, ge=1, description="Messages per SMTP connection.")
    cafile: Path | None = Field(None, description="CA bundle of the SMTP server.")


class EmailSettings(SettingsGroup):
    """What an e-mail is made of, and where it goes without an SMTP server."""

    model_config = _config()

    mail_from: str = Field("Talent Team <talent@example.org>", description="From address.")
    templates_dir: Path | None = Field(None, description="E-mail templates (packaged).")
    outbox_dir: Path | None = Field(None, description="Maildir outbox (<data_dir>/outbox).")


class WebhookSettings(SettingsGroup):
    """The webhook endpoints, their signing key and request timeout."""

    model_config = _config(f"{PREFIX}WEBHOOK_")

    endpoints: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=f"{PREFIX}WEBHOOKS",
        description="Webhook endpoint name -> URL.",
    )
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key of webhook signatures.")
    secret_file: Path | None = Field(None, description="File of that key (made once).")
    ad_audience_endpoint: str = Field(
        "ad_audience",
        validation_alias=f"{PREFIX}AD_AUDIENCE_ENDPOINT",
        description="Endpoint of ad_audience.",
    )
    recruiter_alert_endpoint: str = Field(
        "recruiter_alert",
        validation_alias=f"{PREFIX}RECRUITER_ALERT_ENDPOINT",
        description="Endpoint of recruiter_alert.",
    )
    timeout_s: float = Field(
        10.0,
        gt=0,
        validation_alias=f"{PREFIX}HTTP_TIMEOUT_S",
        description="Webhook request timeout (s).",
    )


class TrackingSettings(SettingsGroup):
    """The links in e-mails: where they point, their key and how long they work."""

    model_config = _config()

    gateway_url: str = Field("http://127.0.0.1:8080", description="Gateway base URL.")
    unsubscribe_mailto: str = Field("unsubscribe@example.org", description="Unsubscribe inbox.")
    secret: SecretStr | None = Field(
        None, validation_alias=f"{PREFIX}TRACKING_SECRET", description="HMAC key of link tokens."
    )
    secret_file: Path | None = Field(
        None,
        validation_alias=f"{PREFIX}TRACKING_SECRET_FILE",
        description="File of that key (made once).",
    )
    token_ttl_days: int = Field(60, ge=1, description="Validity of open/click tokens (days).")
    unsubscribe_ttl_days: int = Field(365, ge=30, description="Unsubscribe tokens (days).")


class DeliverySettings(GroupedSettings):
    """How one delivery consumer runs; see the module docstring for the variables."""

    model_config = _config()

    data_dir: Path = Field(Path("var/delivery"), description="Directory of the delivery store.")
    metrics_port: int | None = Field(None, ge=1, le=65535, description="Prometheus port.")
    metrics_host: str = Field("127.0.0.1", description="Prometheus listen address.")
    kafka: DeliveryKafkaSettings = Field(default_factory=DeliveryKafkaSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    rate: RateSettings = Field(default_factory=RateSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)

    @property
    def outbox(self) -> Path:
        """The Maildir e-mails go to when no SMTP host is configured."""
        return self.email.outbox_dir or self.data_dir / "outbox"
