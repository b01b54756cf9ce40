"""No personal data in logs or metrics: the pipeline fed by the simulator, every output scanned.

The simulator's people have distinctive synthetic names and e-mails (``first.last.N@example.test``).
The pipeline runs as real `nurture` processes (the worker at INFO, the gateway and the e-mail
and webhook delivery consumers at DEBUG, the simulator sending through the gateway); once they
have caught up, every process's /metrics page is scraped, the processes stop, and all their
output is searched for any simulated e-mail, name or full name. The e-mails actually sent are
the control: the same scan finds the people there.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTIVITY, PROFILE
from streams.worker.probe import free_port, group_lag
from tests.kafka_helpers import read_all, unique, wait_until
from tests.test_delivery_support import Receiver, http_receiver
from tests.test_secure_broker import Child, answers
from tests.test_secure_broker_support import base_env

pytestmark = pytest.mark.kafka

SIMULATION = ["--seed", "7", "--candidates", "40", "--events", "400", "--end", "2026-11-20"]


@dataclass(frozen=True)
class Pii:
    """The simulated people's personal data, as patterns to search text for."""

    emails: frozenset[str]
    full_names: frozenset[str]
    names: frozenset[str]

    def found_in(self, text: str) -> list[str]:
        """Every piece of personal data in ``text`` (names as whole, capitalised words)."""
        lowered = text.lower()
        hits = [email for email in self.emails if email in lowered]
        hits += [email.split("@")[0] for email in self.emails if email.split("@")[0] in lowered]
        hits += [name for name in self.full_names if name in text]
        hits += [name for name in self.names if re.search(rf"\b{re.escape(name)}\b", text)]
        return sorted(set(hits))


def simulated_pii(records_file: Path) -> Pii:
    emails: set[str] = set()
    full_names: set[str] = set()
    names: set[str] = set()
    for line in records_file.read_text().splitlines():
        sim = json.loads(line)
        contact = sim["record"].get("contact") if sim["subject"] == "candidate_profile" else None
        if not contact:
            continue
        emails.add(contact["email"].lower())
        first, last = contact.get("first_name"), contact.get("last_name")
        names.update(n for n in (first, last) if n)
        if first and last:
            full_names.add(f"{first} {last}")
    return Pii(frozenset(emails), frozenset(full_names), frozenset(names))


def test_the_scan_finds_planted_pii() -> None:
    pii = Pii(frozenset({"anna.schmidt.1@example.test"}), frozenset({"Anna Schmidt"}), frozenset())
    assert pii.found_in("sent to Anna.Schmidt.1@example.test") == [
        "anna.schmidt.1",
        "anna.schmidt.1@example.test",
    ]
    assert pii.found_in("Dear Anna Schmidt") == ["Anna Schmidt"]
    named = Pii(frozenset(), frozenset(), frozenset({"Wei"}))
    assert named.found_in("hello Wei!") == ["Wei"]
    assert named.found_in("Weight 3, weird") == []


@pytest.fixture
def pipeline_env(kafka: KafkaSettings, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **base_env(),
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": kafka.topic_prefix,
        "NURTURE_DELIVERY_TRACKING_SECRET": secrets.token_urlsafe(32),
        "NURTURE_DELIVERY_WEBHOOK_SECRET": secrets.token_urlsafe(32),
    }


def test_no_simulated_pii_in_any_log_or_metrics_page(
    kafka: KafkaSettings, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    records = tmp_path / "simulated.jsonl"
    written = Child(["simulate", *SIMULATION, "-o", str(records)], pipeline_env, tmp_path / "w.log")
    assert written.process.wait(120) == 0, written.output()
    pii = simulated_pii(records)
    assert len(pii.emails) == 40 and pii.full_names, "the simulator must make people to look for"

    keys_file = tmp_path / "api-keys"
    sources = ("career-site", "ats", "esp", "events-platform", "crm", "simulator")
    keys_file.write_text("".join(f"{s}={secrets.token_urlsafe(24)}\n" for s in sources))
    worker_port, gateway_port = free_port(), free_port()
    metrics_ports = {"email": free_port(), "webhook": free_port()}
    app_id = unique("piiworker")
    children: dict[str, Child] = {}
    pages: dict[str, str] = {}
    with http_receiver(Receiver()) as hook_url:
        try:
            children["worker"] = Child(
                ["worker"],
                {
                    **pipeline_env,
                    "NURTURE_WORKER_APP_ID": app_id,
                    "NURTURE_WORKER_DATA_DIR": str(tmp_path / "worker"),
                    "NURTURE_WORKER_WEB_PORT": str(worker_port),
                    "NURTURE_WORKER_STORE": "memory://",
                    "NURTURE_WORKER_COMMIT_INTERVAL_S": "0.5",
                    "NURTURE_WORKER_LOG_LEVEL": "info",
                },
                tmp_path / "worker.log",
            )
            children["gateway"] = Child(
                ["gateway", "--port", str(gateway_port), "--log-level", "debug"],
                {**pipeline_env, "NURTURE_GATEWAY_API_KEYS_FILE": str(keys_file)},
                tmp_path / "gateway.log",
            )
            for channel, port in metrics_ports.items():
                children[channel] = Child(
                    [
                        *("deliver", "--channel", channel, "--log-level", "DEBUG"),
                        *("--metrics-port", str(port)),
                    ],
                    {
                        **pipeline_env,
                        "NURTURE_DELIVERY_DATA_DIR": str(tmp_path / f"delivery-{channel}"),
                        "NURTURE_DELIVERY_WEBHOOKS": json.dumps(
                            {"crm": hook_url, "ad_audience": hook_url, "recruiter_alert": hook_url}
                        ),
                    },
                    tmp_path / f"deliver-{channel}.log",
                )
            gateway = f"http://127.0.0.1:{gateway_port}"
            wait_until(
                lambda: answers(f"{gateway}/readyz", children["gateway"]),
                timeout_s=90,
                what="the gateway",
            )
            wait_until(
                lambda: answers(f"http://127.0.0.1:{worker_port}/v1/health", children["worker"]),
                timeout_s=90,
                what="the worker",
            )
            simulator = Child(
                [
                    *("simulate", *SIMULATION, "--via", "gateway", "--gateway-url", gateway),
                    *("--api-keys-file", str(keys_file)),
                ],
                pipeline_env,
                tmp_path / "simulator.log",
            )
            children["simulator"] = simulator
            assert simulator.process.wait(180) == 0, simulator.output()

            def caught_up() -> bool:
                for child in children.values():
                    if child is not simulator:
                        child.alive()
                lags = [group_lag(kafka, kafka.topic(app_id), kafka.topic(ACTIVITY))]
                lags += [
                    group_lag(kafka, kafka.topic(f"nurture-delivery-{c}"), kafka.topic(ACTION))
                    for c in metrics_ports
                ]
                return not any(v for lag in lags for v in lag.values())

            wait_until(caught_up, timeout_s=180, interval_s=1.0, what="the pipeline to catch up")
            scrape = {
                "worker": f"http://127.0.0.1:{worker_port}/metrics",
                "gateway": f"{gateway}/metrics",
                **{c: f"http://127.0.0.1:{p}/metrics" for c, p in metrics_ports.items()},
            }
            for name, url in scrape.items():
                response = httpx.get(url, timeout=10)
                assert response.status_code == 200, (name, response.status_code)
                pages[name] = response.text
        finally:
            for child in reversed(children.values()):
                child.stop()

    profiles = read_all(kafka, kafka.topic(PROFILE))
    assert len(profiles) >= 40, "the simulated profiles (with their PII) went through the pipeline"
    assert all("nurture_" in page for page in pages.values()), pages.keys()
    logs = {name: child.output() for name, child in children.items()}
    assert logs["worker"].strip() and logs["gateway"].strip(), "the processes must have logged"
    leaks = {
        where: hits
        for where, text in [*logs.items(), *((f"{n} /metrics", p) for n, p in pages.items())]
        if (hits := pii.found_in(text))
    }
    assert not leaks, f"personal data found: {leaks}"
    # control: where personal data belongs (the e-mails sent), the same scan does find it
    for sent in (tmp_path / "delivery-email" / "outbox").rglob("*.vm"):
        assert pii.found_in(sent.read_text(errors="replace")), sent
