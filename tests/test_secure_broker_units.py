"""Secure mode without a broker: its settings, properties, certificates and error wording."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from kafka.errors import KafkaConnectionError, SaslAuthenticationFailedError
from pydantic import SecretStr

from deploy.broker import config, tls
from deploy.broker.secure import (
    ScramUsers,
    SecureFiles,
    client_env,
    client_settings,
    scram_format_options,
    secure_properties,
)
from deploy.broker.settings import SECURE_PORT, BrokerSettings, default_secure_data_dir
from schemas.errors import KafkaAuthenticationError, KafkaUnavailableError
from schemas.kafka_seam.connection_errors import ConnectFailures, explain, unavailable
from schemas.settings import KafkaSettings


@pytest.fixture(autouse=True)
def _broker_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests name their ports and data dirs or check the defaults: the broker settings of
    the environment (e.g. a CI run on other ports) must not leak into them."""
    names = ("PORT", "CONTROLLER_PORT", "SECURE", "DATA_DIR")  # .ci/run sets a fresh data dir
    for name in names:
        monkeypatch.delenv(f"NURTURE_BROKER_{name}", raising=False)


USERS = ScramUsers(SecretStr("admin-pass-123"), SecretStr("client-pass-456"))


def _files(tmp_path: Path) -> SecureFiles:
    files = SecureFiles(tmp_path)
    made = tls.make_broker_tls("127.0.0.1")
    files.tls_dir.mkdir()
    files.ca_cert.write_text(made.ca_cert_pem)
    files.broker_cert.write_text(made.broker_cert_pem)
    files.broker_key.write_text(made.broker_key_pem)
    return files


def test_secure_broker_gets_its_own_port_and_data_dir_unless_given(tmp_path: Path) -> None:
    plain, secure = BrokerSettings(), BrokerSettings(secure=True)
    assert (plain.port, secure.port) == (9092, SECURE_PORT)
    assert secure.data_dir == default_secure_data_dir() != plain.data_dir
    assert secure.controller == SECURE_PORT + 1
    given = BrokerSettings(secure=True, port=30000, data_dir=tmp_path)
    assert (given.port, given.data_dir) == (30000, tmp_path)


def test_secure_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_BROKER_SECURE", "true")
    monkeypatch.delenv("NURTURE_BROKER_PORT", raising=False)
    assert BrokerSettings().port == SECURE_PORT


def test_secure_properties_have_one_sasl_ssl_listener(tmp_path: Path) -> None:
    settings = BrokerSettings(secure=True, port=30000, data_dir=tmp_path)
    props = secure_properties(settings, tmp_path / "data", _files(tmp_path), USERS)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:30000,CONTROLLER://127.0.0.1:30001"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:30000"
    assert "PLAINTEXT:PLAINTEXT" not in props["listener.security.protocol.map"]
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert (
        'username="admin" password="admin-pass-123"'
        in (props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"])
    )
    assert props["ssl.keystore.key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert props["auto.create.topics.enable"] == "false"  # the base properties are kept


def test_rendered_pem_stays_on_one_line_per_key(tmp_path: Path) -> None:
    text = config.render_properties({"a": "line one\nline two", "b": "back\\slash"})
    assert text == "a=line one\\nline two\nb=back\\\\slash\n"


def test_both_users_are_added_at_format_time() -> None:
    assert scram_format_options(USERS) == [
        "--add-scram",
        "SCRAM-SHA-512=[name=admin,password=admin-pass-123]",
        "--add-scram",
        "SCRAM-SHA-512=[name=nurture,password=client-pass-456]",
    ]


def test_client_env_names_every_setting_a_client_needs(tmp_path: Path) -> None:
    settings = client_settings("127.0.0.1:30000", SecureFiles(tmp_path), USERS)
    assert client_env(settings) == {
        "NURTURE_BOOTSTRAP_SERVERS": "127.0.0.1:30000",
        "NURTURE_SECURITY_PROTOCOL": "SASL_SSL",
        "NURTURE_SASL_MECHANISM": "SCRAM-SHA-512",
        "NURTURE_SASL_USERNAME": "nurture",
        "NURTURE_SASL_PASSWORD": "client-pass-456",
        "NURTURE_SSL_CAFILE": str(tmp_path / "tls" / "ca.pem"),
    }
    assert "client-pass-456" not in repr(settings) + repr(USERS)


def test_broker_certificate_is_signed_by_the_ca_for_its_host() -> None:
    made = tls.make_broker_tls("10.1.2.3")
    ca = x509.load_pem_x509_certificate(made.ca_cert_pem.encode())
    cert = x509.load_pem_x509_certificate(made.broker_cert_pem.encode())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert 800 < tls.days_left(made.broker_cert_pem) <= tls.VALID_DAYS
    context = ssl.create_default_context(cadata=made.ca_cert_pem)  # Python accepts the CA
    assert context.cert_store_stats()["x509_ca"] == 1


SASL = KafkaSettings(
    bootstrap_servers="h:1",
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="nurture",
    sasl_password=SecretStr("pw"),
)


def test_a_refused_login_is_named_and_not_retriable() -> None:
    failures = ConnectFailures([SaslAuthenticationFailedError("invalid credentials")])
    error = unavailable("cannot reach Kafka", failures, SASL)
    assert isinstance(error, KafkaAuthenticationError)
    assert not error.retriable
    assert "refused the login of SASL user 'nurture'" in str(error)


def test_a_sasl_connection_closed_after_api_versions_reads_as_a_refused_login() -> None:
    failures = ConnectFailures([KafkaConnectionError("socket disconnected")], 1)
    assert "refused the login" in (explain(failures, SASL) or "")
    tls_only = SASL.model_copy(update={"security_protocol": "SSL"})
    assert "probably requires a SASL login" in (explain(failures, tls_only) or "")


def test_a_tls_failure_is_named() -> None:
    try:
        raise KafkaConnectionError("Handshake failed") from ssl.SSLCertVerificationError(
            1, "certificate verify failed"
        )
    except KafkaConnectionError as error:
        failures = ConnectFailures([error])
    assert "TLS handshake with Kafka at h:1 failed" in (explain(failures, SASL) or "")


def test_nothing_telling_keeps_the_retriable_unavailable_error() -> None:
    error = unavailable("no broker answered", ConnectFailures(), SASL)
    assert type(error) is KafkaUnavailableError and error.retriable
    assert str(error) == "no broker answered"
