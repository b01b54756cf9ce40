"""Settings of a delivery consumer (`nurture deliver`): one frozen model, loaded once per process.

Environment variables (all optional; `nurture deliver` flags override some):

======================================  ===========================================================
``NURTURE_DELIVERY_DATA_DIR``           directory of the delivery store (``./var/delivery``)
``NURTURE_DELIVERY_GROUP_PREFIX``       consumer group prefix; the group is
                                        ``<topic prefix><group prefix>-<channel>``
                                        (``nurture-delivery``)
``NURTURE_DELIVERY_WEBHOOKS``           JSON object of endpoint name -> URL, e.g.
                                        ``{"crm": "https://crm.example/hooks/nurture"}``
``NURTURE_DELIVERY_WEBHOOK_SECRET``     HMAC-SHA256 key that signs webhook bodies (secret)
``NURTURE_DELIVERY_AD_AUDIENCE_ENDPOINT``   endpoint name for ``ad_audience`` (``ad_audience``)
``NURTURE_DELIVERY_RECRUITER_ALERT_ENDPOINT`` endpoint name for ``recruiter_alert``
                                        (``recruiter_alert``)
``NURTURE_DELIVERY_HTTP_TIMEOUT_S``     webhook request timeout, seconds (10)
``NURTURE_DELIVERY_POLL_TIMEOUT_MS``    longest wait of one poll, ms (500)
``NURTURE_DELIVERY_RETRY_BASE_S``       first retry delay, doubled per attempt, seconds (30)
``NURTURE_DELIVERY_RETRY_MAX_DELAY_S``  longest delay between two attempts, seconds (3600)
``NURTURE_DELIVERY_RETRY_HORIZON_S``    give up (dead-letter) this long after the first
                                        attempt, seconds (86400 = 24 h)
``NURTURE_DELIVERY_RATE_PER_S``         sends per second of this channel (10)
``NURTURE_DELIVERY_RATE_BURST``         sends allowed at once after a quiet spell (20)
======================================  ===========================================================
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeliverySettings(BaseSettings):
    """How one delivery consumer runs; see the module docstring for the variables."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_DELIVERY_", frozen=True, extra="ignore")

    data_dir: Path = Field(Path("var/delivery"), description="Directory of the delivery store.")
    group_prefix: str = Field("nurture-delivery", min_length=1, description="Group prefix.")
    webhooks: dict[str, str] = Field(
        default_factory=dict, description="Webhook endpoint name -> URL."
    )
    webhook_secret: SecretStr = Field(
        SecretStr("change-me"), description="HMAC-SHA256 key of webhook signatures."
    )
    ad_audience_endpoint: str = Field("ad_audience", description="Endpoint of ad_audience.")
    recruiter_alert_endpoint: str = Field(
        "recruiter_alert", description="Endpoint of recruiter_alert."
    )
    http_timeout_s: float = Field(10.0, gt=0, description="Webhook request timeout (s).")
    poll_timeout_ms: int = Field(500, ge=1, description="Longest wait of one poll (ms).")
    retry_base_s: float = Field(30.0, gt=0, description="First retry delay (s), doubled.")
    retry_max_delay_s: float = Field(3600.0, gt=0, description="Longest retry delay (s).")
    retry_horizon_s: float = Field(86400.0, gt=0, description="Retry horizon (s).")
    rate_per_s: float = Field(10.0, gt=0, description="Sends per second of this channel.")
    rate_burst: int = Field(20, ge=1, description="Sends allowed at once.")
