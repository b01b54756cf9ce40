"""The monitoring files in deploy/ are valid for the tools that load them (no pipeline needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from deploy.up.plan import UpOptions

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"


def _promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    assert binary, "install the Debian package prometheus (.ci/run does)"
    done = subprocess.run(
        [binary, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_checks_config_and_rules() -> None:
    out = _promtool("check", "config", "prometheus.yml")  # also checks the rule files it loads
    assert "2 rule files found" in out
    rules = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("rules/*.yml"))
    assert rules == ["rules/alerts.yml", "rules/recording.yml"]
    _promtool("check", "rules", *rules)


def test_alerts_fire_on_synthetic_series() -> None:
    _promtool("test", "rules", "tests/alerts_test.yml")


def test_scrape_config_names_every_process_of_nurture_up() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    # The defaults of `nurture up` (deploy/cli/up_cmd.py, deploy/up/plan.py).
    assert targets == {
        "nurture-worker": ["127.0.0.1:6066"],
        "nurture-gateway": ["127.0.0.1:8080"],
        "nurture-delivery": [f"127.0.0.1:{port}" for port in range(9101, 9106)],
    }
    assert UpOptions().delivery_metrics_port == 9101 and len(UpOptions().delivery_channels) == 5


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "nurture.yml").read_text()
    )
    [datasource] = provisioned["datasources"]
    dashboards = {p.stem: json.loads(p.read_text()) for p in GRAFANA_DIR.glob("dashboards/*.json")}
    assert {d["title"] for d in dashboards.values()} == {"Talent engagement", "Pipeline health"}
    for name, dashboard in dashboards.items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"], (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            assert all(t["expr"].strip() for t in panel["targets"]), (name, panel["title"])
