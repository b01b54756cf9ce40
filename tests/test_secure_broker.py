"""The pipeline against the secure local broker: SASL_SSL with SCRAM-SHA-512 over TLS.

One secure broker for the module (started with `nurture broker start --secure`), beside
the dev broker. Every client kind connects as the ``nurture`` user: the admin CLI, the SDK, the
worker, the delivery consumer and the gateway (the last three as real `nurture` processes); a
wrong password, a plaintext client, a client without credentials and a client that does not
trust the CA are refused with a clear error; the passwords never reach a log or a repr.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from deploy.broker import tls
from deploy.broker.process import answers_metadata
from producers import NurtureProducer, ProducerSettings
from schemas.errors import KafkaAuthenticationError, KafkaUnavailableError
from schemas.kafka_seam import clients, topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, TOPICS
from streams.worker.probe import free_port
from tests.kafka_helpers import read_all, unique, wait_until
from tests.test_delivery_support import (
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
)
from tests.test_secure_broker_support import NURTURE, SecureBroker, secure_broker
from tests.worker_support import published

pytestmark = pytest.mark.kafka

FAST = ProducerSettings(linger_ms=1, delivery_timeout_s=20, max_block_ms=10_000)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with secure_broker(tmp_path_factory.mktemp("secure-kafka")) as running:
        yield running


@pytest.fixture
def kafka_secure(secure: SecureBroker) -> Iterator[KafkaSettings]:
    """The ``nurture`` user's settings with a fresh prefix and every declared topic created."""
    settings = secure.settings.model_copy(
        update={"topic_prefix": unique("sec") + ".", "topic_partitions": 3}
    )
    assert topic_admin.create_all(settings).ok
    yield settings
    topic_admin.delete_prefixed(settings)


def page_view(candidate_id: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "page_viewed",
        "candidate_id": candidate_id,
        "occurred_at": "2025-03-01T09:30:12Z",
        "source": "career-site",
        "payload": {"url": "https://careers.example.test/jobs/4711", "page_type": "job"},
    }


class Child:
    """A `nurture` command as a child process, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*NURTURE, *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.output()}"
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def answers(url: str, child: Child) -> bool:
    child.alive()
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# -- the broker -------------------------------------------------------------------------------


def test_start_prints_where_the_ca_and_credentials_are(secure: SecureBroker) -> None:
    out = secure.start_output
    assert str(secure.broker.ca_file) in out
    assert str(secure.broker.client_env_file) in out
    for name in ("NURTURE_SECURITY_PROTOCOL", "NURTURE_SASL_PASSWORD", "NURTURE_SSL_CAFILE"):
        assert name in out
    secure.assert_no_password(out, "the output of `nurture broker start --secure`")
    env_file = secure.broker.client_env_file.read_text()
    assert "NURTURE_SECURITY_PROTOCOL=SASL_SSL" in env_file
    assert "NURTURE_SASL_MECHANISM=SCRAM-SHA-512" in env_file


def test_admin_cli_creates_topics_over_sasl_ssl(secure: SecureBroker) -> None:
    settings = secure.settings.model_copy(update={"topic_prefix": unique("seccli") + "."})
    try:
        created = subprocess.run(
            [*NURTURE, "topics", "create"],
            env=secure.env(settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        assert set(topic_admin.list_topics(settings)) == {settings.topic(t.name) for t in TOPICS}
        secure.assert_no_password(created.stdout + created.stderr, "`nurture topics create`")
    finally:
        topic_admin.delete_prefixed(settings)


# -- every client kind over SASL_SSL ----------------------------------------------------------


def test_sdk_publishes_over_sasl_ssl(kafka_secure: KafkaSettings) -> None:
    event = page_view("cand-sdk")
    with NurtureProducer(kafka_secure, FAST) as sdk:
        meta = sdk.send(event).get(timeout=20)
    assert meta.topic == kafka_secure.topic(ACTIVITY)
    keys = [r.key for r in read_all(kafka_secure, kafka_secure.topic(ACTIVITY))]
    assert keys == [b"cand-sdk"]


def test_worker_scores_over_sasl_ssl(
    secure: SecureBroker, kafka_secure: KafkaSettings, tmp_path: Path
) -> None:
    port = free_port()
    env = secure.env(
        kafka_secure,
        NURTURE_WORKER_APP_ID=unique("secworker"),
        NURTURE_WORKER_DATA_DIR=str(tmp_path / "worker"),
        NURTURE_WORKER_WEB_PORT=str(port),
        NURTURE_WORKER_STORE="memory://",
        NURTURE_WORKER_COMMIT_INTERVAL_S="0.5",
        NURTURE_WORKER_LOG_LEVEL="info",
    )
    worker = Child(["worker"], env, tmp_path / "worker.log")
    try:
        wait_until(
            lambda: answers(f"http://127.0.0.1:{port}/v1/health", worker),
            timeout_s=90,
            what="the worker's web server",
        )
        with NurtureProducer(kafka_secure, FAST) as sdk:
            for candidate in ("cand-w1", "cand-w2"):
                sdk.send(page_view(candidate)).get(timeout=20)
        scored = wait_until(
            lambda: worker.alive() and {"cand-w1", "cand-w2"} <= set(published(kafka_secure)),
            timeout_s=90,
            what="engagement records from the worker",
        )
        assert scored
    finally:
        worker.stop()
    secure.assert_no_password(worker.output(), "the worker's log")


def test_delivery_consumer_runs_over_sasl_ssl(
    secure: SecureBroker, kafka_secure: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka_secure, profile("cand-d1"))
    receiver = Receiver()
    the_action = action("cand-d1")
    with http_receiver(receiver) as url:
        env = secure.env(
            kafka_secure,
            NURTURE_DELIVERY_DATA_DIR=str(tmp_path / "delivery"),
            NURTURE_DELIVERY_WEBHOOKS=f'{{"crm": "{url}/hook"}}',
            NURTURE_DELIVERY_WEBHOOK_SECRET=secrets.token_urlsafe(32),
            NURTURE_DELIVERY_TRACKING_SECRET=secrets.token_urlsafe(32),
            NURTURE_DELIVERY_POLL_TIMEOUT_MS="100",
        )
        deliver = Child(
            ["deliver", "--channel", "webhook", "--log-level", "INFO"],
            env,
            tmp_path / "deliver.log",
        )
        try:
            publish_actions(kafka_secure, the_action)
            sent = wait_until(
                lambda: (
                    deliver.alive()
                    and [
                        o for o in outcomes(kafka_secure) if o["action_id"] == the_action.action_id
                    ]
                ),
                timeout_s=90,
                what="the delivery outcome",
            )
        finally:
            deliver.stop()
    assert isinstance(sent, list) and sent[0]["outcome"] == "sent", sent
    assert receiver.count() == 1
    secure.assert_no_password(deliver.output(), "the delivery consumer's log")


def test_gateway_accepts_over_sasl_ssl(
    secure: SecureBroker, kafka_secure: KafkaSettings, tmp_path: Path
) -> None:
    port = free_port()
    key = secrets.token_urlsafe(24)
    env = secure.env(
        kafka_secure,
        NURTURE_GATEWAY_API_KEYS=f"career-site={key}",
        NURTURE_DELIVERY_TRACKING_SECRET=secrets.token_urlsafe(32),
    )
    gateway = Child(
        ["gateway", "--port", str(port), "--log-level", "info"], env, tmp_path / "gateway.log"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: answers(f"{base}/readyz", gateway), timeout_s=90, what="gateway readiness"
        )
        response = httpx.post(
            f"{base}/v1/events",
            json=page_view("cand-gw"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
    finally:
        gateway.stop()
    keys = [r.key for r in read_all(kafka_secure, kafka_secure.topic(ACTIVITY))]
    assert keys == [b"cand-gw"]
    secure.assert_no_password(gateway.output(), "the gateway's log")


# -- refusals ---------------------------------------------------------------------------------


def test_wrong_password_is_refused_with_a_clear_error(secure: SecureBroker) -> None:
    wrong = secure.settings.model_copy(update={"sasl_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaAuthenticationError, match="refused the login of SASL user 'nurture'"):
        NurtureProducer(wrong, ProducerSettings(max_block_ms=10_000))
    assert not KafkaAuthenticationError.retriable

    listed = subprocess.run(
        [*NURTURE, "topics", "list"],
        env={**secure.env(), "NURTURE_SASL_PASSWORD": "not-the-password"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 1
    assert "refused the login of SASL user 'nurture'" in listed.stderr
    assert "wrong user name or password" in listed.stderr
    secure.assert_no_password(listed.stdout + listed.stderr, "the refusal")


@pytest.mark.parametrize("process", ["worker", "deliver"])
def test_a_process_with_a_wrong_password_exits_naming_the_cause(
    secure: SecureBroker, kafka_secure: KafkaSettings, tmp_path: Path, process: str
) -> None:
    command = {
        "worker": ["worker", "--web-port", str(free_port())],
        "deliver": ["deliver", "--channel", "webhook"],
    }[process]
    env = secure.env(
        kafka_secure,
        NURTURE_SASL_PASSWORD="not-the-password",
        NURTURE_WORKER_DATA_DIR=str(tmp_path / "worker"),
        NURTURE_DELIVERY_DATA_DIR=str(tmp_path / "delivery"),
        NURTURE_DELIVERY_TRACKING_SECRET=secrets.token_urlsafe(32),
    )
    ran = subprocess.run(
        [*NURTURE, *command], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "refused the login of SASL user 'nurture'" in ran.stderr
    assert "Traceback" not in ran.stderr
    secure.assert_no_password(ran.stdout + ran.stderr, f"`nurture {command[0]}`")


def test_plaintext_client_is_refused(secure: SecureBroker) -> None:
    plaintext = KafkaSettings(bootstrap_servers=secure.settings.bootstrap_servers)
    assert not answers_metadata(plaintext, timeout_s=3.0)
    with pytest.raises(KafkaUnavailableError, match="closed plaintext connections"):
        NurtureProducer(plaintext, ProducerSettings(max_block_ms=5_000))


def test_tls_without_credentials_is_refused(secure: SecureBroker) -> None:
    tls_only = secure.settings.model_copy(
        update={"security_protocol": "SSL", "sasl_username": None, "sasl_password": None}
    )
    assert not answers_metadata(tls_only, timeout_s=3.0)
    with pytest.raises(KafkaAuthenticationError, match="probably requires a SASL login"):
        NurtureProducer(tls_only, ProducerSettings(max_block_ms=5_000))


def test_a_broker_signed_by_another_ca_is_not_trusted(secure: SecureBroker, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(tls.make_broker_tls("127.0.0.1").ca_cert_pem)
    untrusting = secure.settings.model_copy(update={"ssl_cafile": other_ca})
    with pytest.raises(KafkaAuthenticationError, match=r"TLS handshake .* failed"):
        NurtureProducer(untrusting, ProducerSettings(max_block_ms=5_000))


# -- secrets stay secret ----------------------------------------------------------------------


def test_passwords_never_appear_in_settings_repr_or_str(secure: SecureBroker) -> None:
    settings = secure.settings
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings}"):
        secure.assert_no_password(shown, "a rendering of KafkaSettings")
    assert "**********" in repr(settings)
    secure.assert_no_password(repr(secure.broker.users()), "the repr of the SCRAM users")
    # the password is there where it must be: in the client configuration
    assert clients.kafka_python_options(settings)["sasl_plain_password"] in secure.passwords


def test_passwords_stay_in_the_private_files_only(secure: SecureBroker) -> None:
    broker = secure.broker
    private = {broker.files.users, broker.paths.server_properties, broker.client_env_file}
    for path in private | {broker.files.ca_key, broker.files.broker_key}:
        assert path.stat().st_mode & 0o777 == 0o600, path
    scanned = 0
    for folder, _, names in os.walk(broker.paths.root):  # topic dirs vanish as they are deleted
        for path in (Path(folder) / name for name in names):
            if path in private:
                continue
            try:
                content = path.read_bytes().decode(errors="replace")
            except FileNotFoundError:
                continue
            secure.assert_no_password(content, str(path))
            scanned += 1
    assert broker.paths.log_file.stat().st_size > 0
    assert scanned > 5, "the broker's log and metadata log must have been scanned"
    # the private files do hold them (so the scan above could have found them)
    assert any(p in broker.files.users.read_text() for p in secure.passwords)
    assert os.access(broker.files.users, os.R_OK)
