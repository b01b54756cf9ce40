"""What `nurture up` runs (deploy/up/plan.py, pure): delivery consumers, ports, demo input."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.up.plan import UpOptions, outbox_dir, pipeline_children
from deploy.up.supervisor import ChildSpec
from schemas.settings import KafkaSettings


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NURTURE_GATEWAY_API_KEYS",
        "NURTURE_GATEWAY_API_KEYS_FILE",
        "NURTURE_DELIVERY_DATA_DIR",
        "NURTURE_DELIVERY_OUTBOX_DIR",
        "NURTURE_DELIVERY_GATEWAY_URL",
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
        "deliver-email": "http://127.0.0.1:9201/metrics",
        "deliver-webhook": "http://127.0.0.1:9202/metrics",
        "worker": "http://127.0.0.1:6067/metrics",
        "gateway": "http://127.0.0.1:8081/metrics",
        "simulator": None,
    }
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
