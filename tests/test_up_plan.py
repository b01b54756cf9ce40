"""What `nurture up` runs (deploy/up/plan.py, pure): delivery consumers, ports, demo input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.up.plan import UpOptions, outbox_dir, pipeline_children, webhook_sink_dir
from deploy.up.supervisor import ChildSpec
from schemas.settings import KafkaSettings
from streams.campaigns.loading import load_campaigns


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NURTURE_GATEWAY_API_KEYS",
        "NURTURE_GATEWAY_API_KEYS_FILE",
        "NURTURE_DELIVERY_DATA_DIR",
        "NURTURE_DELIVERY_OUTBOX_DIR",
        "NURTURE_DELIVERY_GATEWAY_URL",
        "NURTURE_DELIVERY_WEBHOOKS",
        "NURTURE_DELIVERY_WEBHOOK_SECRET_FILE",
        "NURTURE_DELIVERY_RECRUITER_ALERT_ENDPOINT",
        "NURTURE_DELIVERY_AD_AUDIENCE_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)


def _by_name(children: list[ChildSpec]) -> dict[str, ChildSpec]:
    return {child.name: child for child in children}


def test_every_child_but_the_simulator_has_a_metrics_port(tmp_path: Path) -> None:
    options = UpOptions(
        demo=True, gateway_port=8081, worker_web_port=6067, delivery_metrics_port=9201
    )
    children = _by_name(pipeline_children(KafkaSettings(), options, tmp_path))
    assert {name: c.metrics_url for name, c in children.items()} == {
        "webhook-sink": None,
        "deliver-email": "http://127.0.0.1:9201/metrics",
        "deliver-webhook": "http://127.0.0.1:9202/metrics",
        "deliver-career_event_invite": "http://127.0.0.1:9203/metrics",
        "deliver-recruiter_alert": "http://127.0.0.1:9204/metrics",
        "deliver-ad_audience": "http://127.0.0.1:9205/metrics",
        "worker": "http://127.0.0.1:6067/metrics",
        "gateway": "http://127.0.0.1:8081/metrics",
        "simulator": None,
    }
    assert next(iter(children)) == "webhook-sink", "started first, stopped last"
    email = children["deliver-email"]
    assert email.argv[-6:] == [
        "--channel",
        "email",
        "--metrics-port",
        "9201",
        "--log-level",
        "INFO",
    ]


def test_delivery_writes_e_mails_to_the_local_outbox_with_links_to_the_local_gateway(
    tmp_path: Path,
) -> None:
    children = _by_name(pipeline_children(KafkaSettings(), UpOptions(gateway_port=8081), tmp_path))
    env = children["deliver-email"].env
    assert env["NURTURE_DELIVERY_DATA_DIR"] == str(tmp_path / "delivery")
    assert env["NURTURE_DELIVERY_GATEWAY_URL"] == "http://127.0.0.1:8081"
    assert outbox_dir(tmp_path) == tmp_path / "delivery" / "outbox"


def test_user_delivery_settings_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_DELIVERY_DATA_DIR", str(tmp_path / "mine"))
    children = _by_name(pipeline_children(KafkaSettings(), UpOptions(), tmp_path))
    assert "NURTURE_DELIVERY_DATA_DIR" not in children["deliver-webhook"].env
    assert outbox_dir(tmp_path) == tmp_path / "mine" / "outbox"


def test_demo_simulator_goes_through_the_gateway_once_it_is_ready(tmp_path: Path) -> None:
    options = UpOptions(demo=True, gateway_port=8081)
    simulator = _by_name(pipeline_children(KafkaSettings(), options, tmp_path))["simulator"]
    argv = list(simulator.argv)
    assert argv[argv.index("--via") + 1] == "gateway"
    assert argv[argv.index("--gateway-url") + 1] == "http://127.0.0.1:8081"
    assert argv[argv.index("--api-keys-file") + 1] == str(tmp_path / "gateway-api-keys")
    assert simulator.start_after == "http://127.0.0.1:8081/readyz"


def test_with_the_users_gateway_keys_the_simulator_uses_the_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_GATEWAY_API_KEYS", "ats=abc")
    simulator = _by_name(pipeline_children(KafkaSettings(), UpOptions(demo=True), tmp_path))[
        "simulator"
    ]
    assert "--via" not in simulator.argv
    assert simulator.start_after is None


def test_every_channel_the_shipped_campaigns_emit_is_delivered(tmp_path: Path) -> None:
    shipped = load_campaigns().campaigns
    emitted = {step.action.channel for campaign in shipped for step in campaign.steps}
    assert emitted == {"email", "career_event_invite", "recruiter_alert", "ad_audience"}
    children = _by_name(pipeline_children(KafkaSettings(), UpOptions(), tmp_path))
    delivered = {name.removeprefix("deliver-") for name in children if name.startswith("deliver-")}
    assert delivered == emitted | {"webhook"}


def test_unconfigured_webhooks_go_to_the_local_sink(tmp_path: Path) -> None:
    options = UpOptions(webhook_sink_port=9381)
    children = _by_name(pipeline_children(KafkaSettings(), options, tmp_path))
    sink = children["webhook-sink"]
    argv = list(sink.argv)
    assert argv[argv.index("-m") + 1] == "deploy.up.webhook_sink"
    assert argv[argv.index("--port") + 1] == "9381"
    assert argv[argv.index("--dir") + 1] == str(webhook_sink_dir(tmp_path))
    assert webhook_sink_dir(tmp_path) == tmp_path / "webhooks"
    for name in ("deliver-webhook", "deliver-recruiter_alert", "deliver-ad_audience"):
        env = children[name].env
        assert json.loads(env["NURTURE_DELIVERY_WEBHOOKS"]) == {
            "recruiter_alert": "http://127.0.0.1:9381/hooks/recruiter_alert",
            "ad_audience": "http://127.0.0.1:9381/hooks/ad_audience",
        }
        assert children[name].start_after == "http://127.0.0.1:9381/health"
    # The sink verifies with the key delivery signs with: same environment, same key file.
    secret_file = "NURTURE_DELIVERY_WEBHOOK_SECRET_FILE"
    assert sink.env[secret_file] == children["deliver-recruiter_alert"].env[secret_file]
    assert sink.env[secret_file] == str(tmp_path / "webhook-secret")
    assert children["deliver-email"].start_after is None


def test_renamed_endpoints_are_pointed_at_the_sink_under_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_DELIVERY_RECRUITER_ALERT_ENDPOINT", "ats-alerts")
    children = _by_name(pipeline_children(KafkaSettings(), UpOptions(), tmp_path))
    webhooks = json.loads(children["deliver-recruiter_alert"].env["NURTURE_DELIVERY_WEBHOOKS"])
    assert webhooks == {
        "ats-alerts": "http://127.0.0.1:9180/hooks/ats-alerts",
        "ad_audience": "http://127.0.0.1:9180/hooks/ad_audience",
    }


def test_configured_webhooks_are_never_touched_and_no_sink_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_DELIVERY_WEBHOOKS", '{"crm": "https://crm.example/hooks"}')
    children = _by_name(pipeline_children(KafkaSettings(), UpOptions(), tmp_path))
    assert "webhook-sink" not in children
    for child in children.values():
        assert "NURTURE_DELIVERY_WEBHOOKS" not in child.env
        assert child.start_after is None or child.name == "simulator"
