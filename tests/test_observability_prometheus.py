"""The shipped Prometheus rules and Grafana dashboards against a real running pipeline.

`nurture up --demo` (simulator -> gateway -> worker -> delivery, against the real broker, with a
unique topic prefix and free ports) runs while a real Prometheus (Debian package ``prometheus``,
installed by .ci/run) scrapes it with deploy/prometheus/prometheus.yml, only the targets' ports
and the intervals changed. A few e-mails from the Maildir outbox are opened and clicked through
the gateway's tracking links, as a candidate would. Then every dashboard panel query, every
recording rule and every alert expression (with ``bool`` comparisons, so it returns its
inputs even when it does not fire) must return data through Prometheus' HTTP API.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.up.plan import UpOptions
from schemas.settings import KafkaSettings
from streams.worker.probe import free_port
from tests.kafka_helpers import unique, wait_until
from tests.process_helpers import finish

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
#: Grafana's interval variables, as the test evaluates them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "10m", "$__interval": "15s"}
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)")


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every target of every panel of the shipped dashboards."""
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                queries.append((f"{path.stem} / {panel['title']} / {target['refId']}", expr))
    return queries


def rule_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every recording rule, and of every alert with `bool` comparisons."""
    queries = []
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                expr = " ".join(rule["expr"].split())
                if "alert" in rule:
                    expr = _COMPARISON.sub(r"\1 bool \2", expr)
                    expr = re.sub(r"\)\s+and\s+\(", ") * (", expr)
                    queries.append((f"alert {rule['alert']}", expr))
                else:
                    queries.append((f"record {rule['record']}", expr))
    return queries


def test_alert_queries_keep_their_inputs() -> None:
    alerts = dict(rule_queries())
    assert alerts["alert NurtureDeliveryFailureRatio"] == (
        "nurture:delivery_failure_ratio:rate15m > bool 0.05"
    )
    assert alerts["alert NurtureConsumerLagGrowing"] == (
        "(nurture:consumer_lag_records:sum > bool 1000) * "
        "(deriv(nurture:consumer_lag_records:sum[10m]) > bool 0)"
    )


#: Delivery consumers of `nurture up`, one per channel, on consecutive metrics ports.
DELIVERY_CHANNELS = len(UpOptions().delivery_channels)


def free_port_run(count: int = DELIVERY_CHANNELS) -> int:
    """A free port whose next ``count - 1`` ports are free too (the delivery consumers)."""
    while True:
        port = free_port()
        if port + count > 65536:
            continue
        with ExitStack() as stack:
            try:
                for offset in range(1, count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port


class Pipeline:
    """`nurture up --demo --no-ui` as a subprocess, on free ports, state under ``state_dir``."""

    def __init__(self, settings: KafkaSettings, state_dir: Path) -> None:
        self.gateway_port = free_port()
        self.worker_port = free_port()
        self.delivery_port = free_port_run()
        self.sink_port = free_port()
        self.state_dir = state_dir
        env = {
            **os.environ,
            "NURTURE_BROKER_DATA_DIR": str(state_dir / "kafka"),  # state dir = state_dir
            "NURTURE_TOPIC_PARTITIONS": "3",
        }
        for name in list(env):
            if name.startswith(("NURTURE_GATEWAY_API_KEYS", "NURTURE_DELIVERY_")):
                del env[name]
        argv = [
            *(sys.executable, "-m", "deploy.cli.main"),
            *("--bootstrap", settings.bootstrap_servers, "--topic-prefix", settings.topic_prefix),
            *("up", "--demo", "--no-ui"),
            *("--gateway-port", str(self.gateway_port), "--worker-port", str(self.worker_port)),
            *("--delivery-metrics-port", str(self.delivery_port)),
            *("--webhook-sink-port", str(self.sink_port)),
        ]
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    @property
    def targets(self) -> dict[str, list[str]]:
        """Scrape targets per job of deploy/prometheus/prometheus.yml."""
        local = "127.0.0.1:{}".format
        return {
            "nurture-worker": [local(self.worker_port)],
            "nurture-gateway": [local(self.gateway_port)],
            "nurture-delivery": [local(self.delivery_port + n) for n in range(DELIVERY_CHANNELS)],
        }

    def emails(self) -> list[EmailMessage]:
        new = self.state_dir / "delivery" / "outbox" / "new"
        if not new.is_dir():
            return []
        return [
            email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(new.iterdir())
        ]

    def stop(self) -> str:
        """SIGTERM `nurture up`; its output (it must exit 0)."""
        self.process.send_signal(signal.SIGTERM)
        output, _ = finish(self.process, 150)
        text = output.decode(errors="replace")
        assert self.process.returncode == 0, text[-5000:]
        return text


def tracking_links(message: EmailMessage, gateway_port: int) -> list[str]:
    """The open pixel and click links of an e-mail (decoded from its HTML part)."""
    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    pattern = rf"http://127\.0\.0\.1:{gateway_port}/t/(?:open|click)/[^\"'\s<>]+"
    return sorted(set(re.findall(pattern, content)))


class Prometheus:
    """A real Prometheus with the shipped config (targets and intervals replaced)."""

    def __init__(self, targets: dict[str, list[str]], workdir: Path) -> None:
        binary = shutil.which("prometheus")
        assert binary, "install the Debian package prometheus (.ci/run does)"
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert set(jobs) == set(targets), "every process of nurture up is scraped"
        for name, job in jobs.items():
            job["static_configs"] = [{"targets": targets[name]}]
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._ready, timeout_s=60, interval_s=0.5, what="Prometheus to be ready")

    def _ready(self) -> bool:
        assert self.process.poll() is None, "prometheus exited; see prometheus.log"
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def has_data(self, expr: str) -> bool:
        return bool(self.api("query", query=expr)["result"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def pipeline(kafka_base: KafkaSettings, tmp_path: Path) -> Iterator[Pipeline]:
    settings = kafka_base.model_copy(update={"topic_prefix": unique("obs") + "."})
    running = Pipeline(settings, tmp_path / "up")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def test_every_dashboard_query_and_rule_returns_data(pipeline: Pipeline, tmp_path: Path) -> None:
    prometheus = Prometheus(pipeline.targets, tmp_path / "prometheus")
    try:

        def targets_up() -> bool:
            active = prometheus.api("targets")["activeTargets"]
            expected = sum(len(targets) for targets in pipeline.targets.values())
            return len(active) == expected and all(t["health"] == "up" for t in active)

        wait_until(targets_up, timeout_s=120, interval_s=1, what="every process scraped")

        # A candidate opens and clicks: the gateway's tracking links feed the funnel.
        messages = wait_until(
            lambda: pipeline.emails()[:5] if len(pipeline.emails()) >= 5 else None,
            timeout_s=180,
            interval_s=1,
            what="5 e-mails in the Maildir outbox",
        )
        clicked = 0
        for message in messages:
            for link in tracking_links(message, pipeline.gateway_port):
                response = httpx.get(link, timeout=10, follow_redirects=False)
                assert response.status_code < 400, (link, response.status_code)
                clicked += "/t/click/" in link
        assert clicked, "the welcome e-mails carry click links"

        pending = dict(dashboard_queries() + rule_queries())

        def all_return_data() -> bool:
            for where, expr in list(pending.items()):
                if prometheus.has_data(expr):
                    del pending[where]
            return not pending

        try:
            wait_until(all_return_data, timeout_s=240, interval_s=2, what="every query")
        except AssertionError:
            raise AssertionError(
                "queries without data:\n"
                + "\n".join(f"  {where}: {expr}" for where, expr in pending.items())
            ) from None

        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        assert len(rules) == len(rule_queries())
        assert [r["name"] for r in rules if r["health"] != "ok"] == []
    finally:
        prometheus.stop()
    output = pipeline.stop()
    assert "restart" not in output, f"a child crashed during the run:\n{output[-5000:]}"
    stopping = re.findall(r"nurture.up stopping (\S+)", output)
    assert stopping == [
        "simulator",
        "gateway",
        "worker",
        "deliver-ad_audience",
        "deliver-recruiter_alert",
        "deliver-career_event_invite",
        "deliver-webhook",
        "deliver-email",
        "webhook-sink",
    ]
