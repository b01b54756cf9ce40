"""`nurture up`: run the whole pipeline on this machine (the README's "run" command)."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from deploy.broker.process import answers_metadata
from deploy.broker.secure import local_broker
from deploy.broker.settings import BrokerSettings
from deploy.cli.context import console, fail, kafka_settings
from deploy.registry.settings import RegistrySettings, local_registry_for
from deploy.up.live import run_live_view
from deploy.up.plan import (
    UpOptions,
    local_webhooks,
    outbox_dir,
    pipeline_children,
    webhook_sink_dir,
)
from deploy.up.supervisor import Supervisor
from schemas.errors import NurtureError
from schemas.kafka_seam import topic_admin
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings


def _is_local_default(bootstrap: str, broker: BrokerSettings) -> bool:
    return bootstrap == broker.listener


def _check_child_settings(gateway_port: int, worker_port: int, delivery_port: int) -> None:
    """Build each child's settings from this environment (and the topics' retention) before
    anything starts: a bad NURTURE_* setting ends `nurture up` with one line naming it (exit 2),
    not with a child that fails at start and is restarted again and again."""
    from consumers.settings import DeliverySettings  # noqa: PLC0415 - keeps `--help` fast
    from producers.gateway.settings import GatewaySettings  # noqa: PLC0415
    from producers.settings import ProducerSettings  # noqa: PLC0415
    from schemas.privacy.settings import PrivacySettings  # noqa: PLC0415
    from schemas.topics import TOPICS  # noqa: PLC0415
    from streams.worker.settings import WorkerSettings  # noqa: PLC0415

    GatewaySettings(port=gateway_port)
    WorkerSettings(web_port=worker_port)
    DeliverySettings(metrics_port=delivery_port)
    ProducerSettings()
    PrivacySettings()
    SchemaRegistrySettings()
    for spec in TOPICS:
        spec.configs()


def up(  # noqa: PLR0917 - typer takes each option as a parameter
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Also run the simulator as input.")] = False,
    no_ui: Annotated[
        bool, typer.Option("--no-ui", help="Plain logs instead of the live view.")
    ] = False,
    gateway_port: Annotated[int, typer.Option("--gateway-port", help="Gateway HTTP port.")] = 8080,
    worker_port: Annotated[
        int, typer.Option("--worker-port", help="Worker HTTP port (score look-ups).")
    ] = 6066,
    delivery_port: Annotated[
        int,
        typer.Option(
            "--delivery-metrics-port",
            help="Metrics port of the e-mail delivery consumer; the other channels' consumers "
            "(webhook, career_event_invite, recruiter_alert, ad_audience) use the next four.",
        ),
    ] = 9101,
    webhook_sink_port: Annotated[
        int,
        typer.Option(
            "--webhook-sink-port",
            help="Port of the local webhook sink (runs when NURTURE_DELIVERY_WEBHOOKS is unset).",
        ),
    ] = 9180,
) -> None:
    """Run the pipeline: broker (if none is reachable locally), topics, delivery, worker, gateway.

    Against an external cluster (--bootstrap / NURTURE_BOOTSTRAP_SERVERS) no broker is touched.
    In Schema Registry mode with a local NURTURE_SCHEMA_REGISTRY_URL (127.0.0.1, localhost) the
    local registry is started on the URL's port unless it runs, and the schemas registered,
    before any process starts; such a URL must be the registry's Confluent-compatible API
    (http://127.0.0.1:8081/apis/ccompat/v7), else nothing starts and the error names it. A
    remote registry is only used (register with `nurture schemas register`). Ctrl-C or SIGTERM
    stops every child cleanly, in order.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = kafka_settings(ctx)
    broker_settings = BrokerSettings()
    _check_child_settings(gateway_port, worker_port, delivery_port)
    schema_registry = SchemaRegistrySettings()
    # A local URL that is not the local registry's API ends `nurture up` here, before anything
    # starts, naming the URL to set (exit 2).
    local_registry = local_registry_for(schema_registry.url)
    _broker_and_topics(settings, broker_settings)
    if local_registry is not None:
        _start_local_registry(settings, schema_registry, local_registry)
    options = UpOptions(
        demo=demo,
        gateway_port=gateway_port,
        worker_web_port=worker_port,
        delivery_metrics_port=delivery_port,
        webhook_sink_port=webhook_sink_port,
    )
    state_dir = broker_settings.data_dir.parent
    supervisor = Supervisor(pipeline_children(settings, options, state_dir), state_dir / "logs")
    _print_where_things_go(options, state_dir)
    _supervise(supervisor, live_view=not no_ui)


def _broker_and_topics(settings: KafkaSettings, broker_settings: BrokerSettings) -> None:
    """Check the cluster; start the local broker when nothing answers at its default address
    (never against another address), then create the topics and show any conflicts."""
    try:
        if not answers_metadata(settings, timeout_s=3.0):
            if not _is_local_default(settings.bootstrap_servers, broker_settings):
                raise fail(f"Kafka at {settings.bootstrap_servers} is not reachable")
            status, _ = local_broker(broker_settings).start()  # secure when configured
            console.print(f"started local Kafka {status.kafka_version} on {status.listener}")
        report = topic_admin.create_all(settings)
    except NurtureError as exc:
        raise fail(exc) from exc
    for name, diffs in report.conflicts.items():
        console.print(f"[yellow]topic {name} differs from its declaration:[/] {'; '.join(diffs)}")


def _start_local_registry(
    settings: KafkaSettings, registry: SchemaRegistrySettings, local: RegistrySettings
) -> None:
    """Start the local registry unless it runs, and register the catalog under this
    deployment's subjects."""
    from deploy.registry.process import ensure_local_registry  # noqa: PLC0415 - `--help` fast
    from schemas.catalog import default_catalog  # noqa: PLC0415
    from schemas.schema_registry.client import SchemaRegistryClient  # noqa: PLC0415
    from schemas.schema_registry.register import register_catalog  # noqa: PLC0415

    try:
        url = ensure_local_registry(local)
        with SchemaRegistryClient(registry) as client:
            steps = register_catalog(client, default_catalog(), topic_prefix=settings.topic_prefix)
    except NurtureError as exc:
        raise fail(exc) from exc
    changed = sum(1 for step in steps if step.changed)
    console.print(f"schema registry at {url}: {changed} change(s) to register the schemas")


def _print_where_things_go(options: UpOptions, state_dir: Path) -> None:
    """Where the logs, the gateway's API keys, the demo input, e-mails and webhooks are."""
    console.print(
        f"logs in {state_dir / 'logs'}; gateway on http://127.0.0.1:{options.gateway_port} "
        f"(API keys: {state_dir / 'gateway-api-keys'} unless NURTURE_GATEWAY_API_KEYS is set)"
    )
    if options.demo:
        console.print(
            f"demo input: the simulator's seeded candidates under run id {options.demo_run_id}, "
            "new ids every `nurture up` (`nurture simulate --run-id` repeats a run)",
            markup=False,
        )
    if not os.environ.get("NURTURE_DELIVERY_SMTP_HOST"):
        console.print(f"no SMTP host set: e-mails go to the Maildir {outbox_dir(state_dir)}")
    webhooks = local_webhooks(options)
    if webhooks is not None:
        console.print(
            f"no NURTURE_DELIVERY_WEBHOOKS set: webhooks ({', '.join(webhooks)}) go to the local "
            f"sink on port {options.webhook_sink_port}, one JSON line each in "
            f"{webhook_sink_dir(state_dir)}/<endpoint>.jsonl"
        )


def _supervise(supervisor: Supervisor, *, live_view: bool) -> None:
    """Start every child and watch them (the live view, or plain logs) until SIGTERM or
    Ctrl-C, or until all finished; then stop them in order."""
    stop_requested = False

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    supervisor.start_all()
    try:
        if live_view:
            run_live_view(supervisor, console, lambda: stop_requested)
        else:
            while not stop_requested and not supervisor.all_finished:
                supervisor.poll()
                time.sleep(0.5)
    finally:
        console.print("stopping the pipeline ...")
        supervisor.stop_all()
        console.print("stopped")
