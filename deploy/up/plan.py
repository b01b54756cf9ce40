"""Which processes `nurture up` runs (a pure function of the options)."""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from consumers.settings import WebhookSettings
from deploy.up.supervisor import ChildSpec
from deploy.up.webhook_sink import sink_url
from producers.simulate.run_ids import new_run_id
from schemas.settings import KafkaSettings

#: How children invoke the CLI: the same interpreter and package as the supervisor.
NURTURE = (sys.executable, "-m", "deploy.cli.main")


@dataclass(frozen=True)
class UpOptions:
    """What `nurture up` runs and where its children listen (each serves ``/metrics``)."""

    demo: bool = False
    gateway_port: int = 8080
    worker_web_port: int = 6066
    demo_candidates: int = 2_000
    demo_rate: float = 50.0
    #: The demo simulator's ``--run-id``: new for every `nurture up` (so the pipeline, which
    #: de-duplicates event ids, takes each run's events as new), the same across restarts of
    #: the simulator within one (a restart resends what was sent as duplicates).
    demo_run_id: str = field(default_factory=new_run_id)
    #: One `nurture deliver` per channel, in this order: every channel the campaigns emit.
    delivery_channels: tuple[str, ...] = (
        "email",
        "webhook",
        "career_event_invite",
        "recruiter_alert",
        "ad_audience",
    )
    #: The first delivery consumer's metrics port; the next channels take the next ports.
    delivery_metrics_port: int = 9101
    #: Port of the local webhook sink (run only when no webhook endpoint is configured).
    webhook_sink_port: int = 9180

    def delivery_port(self, channel: str) -> int:
        return self.delivery_metrics_port + self.delivery_channels.index(channel)


def child_env(settings: KafkaSettings) -> dict[str, str]:
    """Environment that carries the global CLI flags to every child."""
    return {
        "NURTURE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": settings.topic_prefix,
    }


def ensure_local_gateway_keys(state_dir: Path) -> Path:
    """A file of API keys for the local gateway, made once with random keys (mode 0600).

    Used only when neither ``NURTURE_GATEWAY_API_KEYS`` nor ``NURTURE_GATEWAY_API_KEYS_FILE`` is
    set, so a local `nurture up` accepts events from the usual sources without setup.
    """
    path = state_dir / "gateway-api-keys"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{source}={secrets.token_urlsafe(24)}" for source in LOCAL_SOURCES]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# API keys of the local gateway (nurture up); source=KEY per line\n")
            out.write("\n".join(lines) + "\n")
    return path


#: Source systems the local gateway accepts out of the box.
LOCAL_SOURCES = ("career-site", "ats", "esp", "events-platform", "crm", "simulator")


def gateway_env(state_dir: Path) -> dict[str, str]:
    """Gateway settings for `nurture up`: the user's keys if configured, else local ones."""
    if os.environ.get("NURTURE_GATEWAY_API_KEYS") or os.environ.get(
        "NURTURE_GATEWAY_API_KEYS_FILE"
    ):
        return {}
    return {"NURTURE_GATEWAY_API_KEYS_FILE": str(ensure_local_gateway_keys(state_dir))}


#: Channels whose sender is the webhook sender (consumers/run.py).
WEBHOOK_CHANNELS = frozenset({"webhook", "recruiter_alert", "ad_audience"})


def local_webhooks(options: UpOptions) -> dict[str, str] | None:
    """Endpoint name -> local sink URL for the channels with a fixed endpoint
    (``recruiter_alert``, ``ad_audience``; their names from ``NURTURE_DELIVERY_*_ENDPOINT``),
    or None when the user configured ``NURTURE_DELIVERY_WEBHOOKS``: then no endpoint is
    touched and no sink runs."""
    if "NURTURE_DELIVERY_WEBHOOKS" in os.environ:
        return None
    webhook = WebhookSettings()
    names = [webhook.recruiter_alert_endpoint, webhook.ad_audience_endpoint]
    return {name: sink_url(options.webhook_sink_port, name) for name in names}


def delivery_env(options: UpOptions, state_dir: Path) -> dict[str, str]:
    """Delivery settings for `nurture up`, unless the user set them: the store (and so the
    Maildir outbox, used while ``NURTURE_DELIVERY_SMTP_HOST`` is unset) and the webhook signing
    key under ``state_dir``, tracking links that point at the local gateway, and webhook
    endpoints at the local sink (:func:`local_webhooks`)."""
    defaults = {
        "NURTURE_DELIVERY_DATA_DIR": str(state_dir / "delivery"),
        "NURTURE_DELIVERY_GATEWAY_URL": f"http://127.0.0.1:{options.gateway_port}",
        "NURTURE_DELIVERY_WEBHOOK_SECRET_FILE": str(state_dir / "webhook-secret"),
    }
    webhooks = local_webhooks(options)
    if webhooks is not None:
        defaults["NURTURE_DELIVERY_WEBHOOKS"] = json.dumps(webhooks)
    return {name: value for name, value in defaults.items() if name not in os.environ}


def webhook_sink_dir(state_dir: Path) -> Path:
    """Where the local webhook sink writes ``<endpoint>.jsonl``."""
    return state_dir / "webhooks"


def webhook_sink(env: dict[str, str], options: UpOptions, state_dir: Path) -> ChildSpec:
    """The local webhook sink (deploy/up/webhook_sink.py), with delivery's environment so it
    verifies signatures with the same key."""
    argv = [
        *(sys.executable, "-m", "deploy.up.webhook_sink"),
        *("--port", str(options.webhook_sink_port), "--dir", str(webhook_sink_dir(state_dir))),
    ]
    sink_env = {**env, **delivery_env(options, state_dir)}
    return ChildSpec("webhook-sink", argv, sink_env, grace_s=10.0)


def outbox_dir(state_dir: Path) -> Path:
    """Where e-mails go without SMTP (the default of :func:`delivery_env`)."""
    configured = os.environ.get("NURTURE_DELIVERY_OUTBOX_DIR")
    if configured:
        return Path(configured)
    data_dir = os.environ.get("NURTURE_DELIVERY_DATA_DIR")
    return (Path(data_dir) if data_dir else state_dir / "delivery") / "outbox"


def demo_simulator(env: dict[str, str], options: UpOptions, state_dir: Path) -> ChildSpec:
    """The simulator of ``--demo``: through the local gateway (so the gateway's figures move)
    when `nurture up` made the gateway's keys, else straight to Kafka with the SDK. Its content
    is the default seed's, its ids are those of ``options.demo_run_id``."""
    argv = [
        *NURTURE,
        "simulate",
        "--run-id",
        options.demo_run_id,
        "--candidates",
        str(options.demo_candidates),
        "--rate",
        str(options.demo_rate),
    ]
    gateway = f"http://127.0.0.1:{options.gateway_port}"
    keys = gateway_env(state_dir).get("NURTURE_GATEWAY_API_KEYS_FILE")
    if keys is None:
        return ChildSpec("simulator", argv, env, grace_s=10.0)
    via = ["--via", "gateway", "--gateway-url", gateway, "--api-keys-file", keys]
    return ChildSpec("simulator", [*argv, *via], env, grace_s=10.0, start_after=f"{gateway}/readyz")


def pipeline_children(
    settings: KafkaSettings, options: UpOptions, state_dir: Path
) -> list[ChildSpec]:
    """The children in start order: delivery, the worker, then the inputs that feed them.

    The supervisor stops them in reverse: the producers of input (simulator, gateway) first,
    then the worker, then delivery, so each drains what the previous one left in Kafka; the
    local webhook sink (when it runs) starts first and stops last, after delivery.
    ``state_dir`` holds local state of `nurture up` (worker stores, generated gateway keys,
    delivery stores, the e-mail outbox and the webhook sink's files).
    """
    env = child_env(settings)
    sink = None if local_webhooks(options) is None else webhook_sink(env, options, state_dir)
    health = None if sink is None else f"http://127.0.0.1:{options.webhook_sink_port}/health"
    children = [] if sink is None else [sink]
    children += [
        ChildSpec(
            f"deliver-{channel}",
            [
                *NURTURE,
                "deliver",
                "--channel",
                channel,
                "--metrics-port",
                str(options.delivery_port(channel)),
                "--log-level",
                "INFO",
            ],
            {**env, **delivery_env(options, state_dir)},
            start_after=health if channel in WEBHOOK_CHANNELS else None,
            metrics_port=options.delivery_port(channel),
        )
        for channel in options.delivery_channels
    ]
    children += [
        ChildSpec(
            "worker",
            [*NURTURE, "worker", "--web-port", str(options.worker_web_port)],
            {**env, "NURTURE_WORKER_DATA_DIR": str(state_dir / "worker")},
            metrics_port=options.worker_web_port,
        ),
        ChildSpec(
            "gateway",
            [*NURTURE, "gateway", "--port", str(options.gateway_port)],
            {**env, **gateway_env(state_dir)},
            metrics_port=options.gateway_port,
        ),
    ]
    if options.demo:
        children.append(demo_simulator(env, options, state_dir))
    return children
