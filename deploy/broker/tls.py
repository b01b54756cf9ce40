"""A throw-away certificate authority and broker certificate for the local secure broker.

Made with the ``cryptography`` library, never by hand: an EC P-256 CA that signs one server
certificate valid for the broker's host (plus ``localhost`` and ``127.0.0.1``), so clients can
verify the broker with ``NURTURE_SSL_CAFILE`` and keep host-name checking on. Keys are PKCS#8
PEM, the form Kafka's PEM key store reads. For development and tests only: the CA key sits next
to the certificates in the broker's data dir.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: How long the generated certificates are valid (days).
VALID_DAYS = 825


@dataclass(frozen=True)
class BrokerTls:
    """PEM text of the CA certificate, the broker's certificate and its private key."""

    ca_cert_pem: str
    ca_key_pem: str
    broker_cert_pem: str
    broker_key_pem: str


def _private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _subject_alt_names(host: str) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            names.append(x509.DNSName(host))
    else:
        if str(address) != "127.0.0.1":
            names.append(x509.IPAddress(address))
    return x509.SubjectAlternativeName(names)


def make_broker_tls(host: str, now: dt.datetime | None = None) -> BrokerTls:
    """A fresh CA and a broker certificate for ``host``, valid from ``now`` for VALID_DAYS."""
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    end = start + dt.timedelta(days=VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "candidate-nurture local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_subject_alt_names(host), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    return BrokerTls(
        ca_cert_pem=ca_cert.public_bytes(pem).decode(),
        ca_key_pem=_private_pem(ca_key),
        broker_cert_pem=broker_cert.public_bytes(pem).decode(),
        broker_key_pem=_private_pem(broker_key),
    )


def days_left(cert_pem: str, now: dt.datetime | None = None) -> float:
    """Days until the certificate in ``cert_pem`` expires (negative once it has)."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    remaining = cert.not_valid_after_utc - (now or dt.datetime.now(dt.UTC))
    return remaining.total_seconds() / 86400
