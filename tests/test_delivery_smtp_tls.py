"""E-mail over STARTTLS with AUTH and over implicit TLS, against aiosmtpd with a test CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until
from tests.test_delivery_email import Inbox, free_port
from tests.test_delivery_support import (
    action,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
    running_delivery,
    settings_for,
)

pytestmark = pytest.mark.kafka


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


@contextmanager
def tls_smtp_server(inbox: Inbox, cert: Path, key: Path, *, implicit: bool) -> Iterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    options: dict[str, Any] = (
        {"ssl_context": context}
        if implicit
        else {
            "tls_context": context,
            "require_starttls": True,
            "authenticator": _authenticate,
            "auth_required": True,
        }
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_over_tls(kafka: KafkaSettings, tmp_path: Path, security: str) -> None:
    publish_profile(kafka, profile("cand-tls"))
    cert, key = self_signed(tmp_path)
    inbox = Inbox()
    the_action = action("cand-tls", "email", template_id="blog-digest")
    with tls_smtp_server(inbox, cert, key, implicit=security == "tls") as port:
        settings = settings_for(
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security=security,
            smtp_cafile=cert,
            smtp_username="mailer" if security == "starttls" else None,
            smtp_password="s3cret" if security == "starttls" else None,
        )
        with running_delivery(kafka, settings, channel="email"):
            publish_actions(kafka, the_action)
            found = wait_until(lambda: outcomes(kafka), what="an outcome")
    assert found[0]["outcome"] == "sent", found
    assert inbox.count() == 1
    assert inbox.messages[0]["To"] == "cand-tls@example.org"


def test_refused_login_is_retried_until_the_horizon(kafka: KafkaSettings, tmp_path: Path) -> None:
    publish_profile(kafka, profile("cand-auth"))
    cert, key = self_signed(tmp_path)
    inbox = Inbox()
    with tls_smtp_server(inbox, cert, key, implicit=False) as port:
        settings = settings_for(
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_cafile=cert,
            smtp_username="mailer",
            smtp_password="wrong",
            retry_horizon_s=1.0,
        )
        with running_delivery(kafka, settings, channel="email"):
            publish_actions(kafka, action("cand-auth", "email", template_id="blog-digest"))
            found = wait_until(lambda: outcomes(kafka), what="an outcome")
    assert (found[0]["outcome"], found[0]["reason"]) == ("dead_lettered", "retry_horizon")
    assert found[0]["attempt"] >= 2
    assert inbox.count() == 0
