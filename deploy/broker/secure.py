"""The local broker in secure mode: one SASL_SSL listener (SCRAM-SHA-512 over TLS).

`nurture broker start --secure` (or ``NURTURE_BROKER_SECURE=true``) runs the same single-node
KRaft broker as the dev one, but its only client listener is ``SASL_SSL``; the KRaft controller
listener stays PLAINTEXT on loopback (it carries no client data). On the first start it makes,
in its data dir:

    tls/ca.pem, tls/ca-key.pem           a throw-away CA (clients trust ca.pem)
    tls/broker.pem, tls/broker-key.pem   the broker's certificate for its host, signed by the CA
    scram-users.json                     two SCRAM-SHA-512 users with random passwords (0600):
                                         ``admin`` (inter-broker, super user of the operator)
                                         and ``nurture`` (every pipeline client)
    nurture-client.env                   the ``NURTURE_*`` variables for the ``nurture`` user (0600)

The users are created when the storage is formatted (``StorageTool format --add-scram``), so they
exist before the broker accepts its first connection. The files are kept across restarts: the
credentials live in the formatted metadata log and must match. Deleting the data dir starts over.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from deploy.broker import config, tls
from deploy.broker.process import LocalBroker
from deploy.broker.settings import BrokerSettings, JarCacheSettings
from schemas.errors import BrokerError
from schemas.settings import KafkaSettings

MECHANISM = "SCRAM-SHA-512"
ADMIN_USER = "admin"
CLIENT_USER = "nurture"
_LISTENER = "SASL_SSL"


@dataclass(frozen=True)
class ScramUsers:
    """The broker's SCRAM users; passwords are secrets (never in a repr or a log)."""

    admin_password: SecretStr
    client_password: SecretStr

    @classmethod
    def random(cls) -> ScramUsers:
        return cls(SecretStr(secrets.token_urlsafe(24)), SecretStr(secrets.token_urlsafe(24)))

    def passwords(self) -> list[str]:
        return [self.admin_password.get_secret_value(), self.client_password.get_secret_value()]


@dataclass(frozen=True)
class SecureFiles:
    """Where secure mode keeps its certificates and credentials (inside the data dir)."""

    root: Path

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.tls_dir / "ca-key.pem"

    @property
    def broker_cert(self) -> Path:
        return self.tls_dir / "broker.pem"

    @property
    def broker_key(self) -> Path:
        return self.tls_dir / "broker-key.pem"

    @property
    def users(self) -> Path:
        return self.root / "scram-users.json"

    @property
    def client_env(self) -> Path:
        return self.root / "nurture-client.env"


def secure_properties(
    settings: BrokerSettings, log_dir: Path, files: SecureFiles, users: ScramUsers
) -> dict[str, str]:
    """The broker's properties with one SASL_SSL listener instead of PLAINTEXT (pure).

    The key and certificate are inlined as PEM (Kafka's file-based PEM key store insists on an
    encrypted key); the file is written with mode 0600 since it holds them and the admin password.
    """
    host, port, controller = settings.host, settings.port, settings.controller
    admin_password = users.admin_password.get_secret_value()
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN_USER}" password="{admin_password}";'
    )
    return {
        **config.broker_properties(settings, log_dir),
        "listeners": f"{_LISTENER}://{host}:{port},CONTROLLER://{host}:{controller}",
        "advertised.listeners": f"{_LISTENER}://{host}:{port}",
        "inter.broker.listener.name": _LISTENER,
        "listener.security.protocol.map": f"{_LISTENER}:{_LISTENER},CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": files.broker_cert.read_text(),
        "ssl.keystore.key": files.broker_key.read_text(),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(files.ca_cert),
        "ssl.client.auth": "none",
        "ssl.endpoint.identification.algorithm": "https",
        # Close a refused connection 1 s after the error response (default 0.1 s): slows
        # password guessing, and a busy client still reads why before the socket closes.
        "connection.failed.authentication.delay.ms": "1000",
    }


def scram_format_options(users: ScramUsers) -> list[str]:
    """``StorageTool format`` options that create both users in the new metadata log (pure)."""
    return [
        option
        for user, secret in (
            (ADMIN_USER, users.admin_password),
            (CLIENT_USER, users.client_password),
        )
        for option in (
            "--add-scram",
            f"{MECHANISM}=[name={user},password={secret.get_secret_value()}]",
        )
    ]


def client_settings(listener: str, files: SecureFiles, users: ScramUsers) -> KafkaSettings:
    """Settings of a pipeline client (the ``nurture`` user) of the secure broker."""
    return KafkaSettings(
        bootstrap_servers=listener,
        security_protocol="SASL_SSL",
        sasl_mechanism=MECHANISM,
        sasl_username=CLIENT_USER,
        sasl_password=users.client_password,
        ssl_cafile=files.ca_cert,
    )


def client_env(settings: KafkaSettings) -> dict[str, str]:
    """The ``NURTURE_*`` variables that make every client use ``settings``' security (pure)."""
    env = {
        "NURTURE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "NURTURE_SECURITY_PROTOCOL": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        env["NURTURE_SASL_MECHANISM"] = settings.sasl_mechanism
    if settings.sasl_username:
        env["NURTURE_SASL_USERNAME"] = settings.sasl_username
    if settings.sasl_password:
        env["NURTURE_SASL_PASSWORD"] = settings.sasl_password.get_secret_value()
    if settings.ssl_cafile:
        env["NURTURE_SSL_CAFILE"] = str(settings.ssl_cafile)
    return env


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)


class SecureLocalBroker(LocalBroker):
    """:class:`LocalBroker` with a SASL_SSL (SCRAM-SHA-512 + TLS) listener only."""

    def __init__(self, settings: BrokerSettings, cache: JarCacheSettings | None = None) -> None:
        super().__init__(settings, cache)
        self.files = SecureFiles(settings.data_dir)

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients must trust (``NURTURE_SSL_CAFILE``)."""
        return self.files.ca_cert

    @property
    def client_env_file(self) -> Path:
        """The ``NURTURE_*`` variables of the ``nurture`` user, one ``NAME=value`` per line."""
        return self.files.client_env

    def users(self) -> ScramUsers:
        """The SCRAM users of this data dir (BrokerError before the first start)."""
        try:
            stored = json.loads(self.files.users.read_text())
            return ScramUsers(
                SecretStr(stored[ADMIN_USER]["password"]),
                SecretStr(stored[CLIENT_USER]["password"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BrokerError(
                f"no usable SCRAM users in {self.files.users} ({type(exc).__name__}); "
                "start the secure broker once to create them"
            ) from None

    def client_settings(self) -> KafkaSettings:
        return client_settings(self.settings.listener, self.files, self.users())

    def admin_settings(self) -> KafkaSettings:
        """Settings of the ``admin`` user (operator tasks; pipeline clients use ``nurture``)."""
        return self.client_settings().model_copy(
            update={"sasl_username": ADMIN_USER, "sasl_password": self.users().admin_password}
        )

    # -- hooks of LocalBroker -----------------------------------------------------------------

    def _write_config(self) -> None:
        formatted = (self.paths.log_dirs / "meta.properties").exists()
        if formatted and not self.files.users.exists():
            raise BrokerError(
                f"{self.paths.root} holds a broker formatted without SCRAM users (a dev broker's "
                "data dir?); choose another --data-dir for the secure broker"
            )
        if not self.files.users.exists():
            self._make_users()
        if not self.files.broker_cert.exists() or not self.files.broker_key.exists():
            self._make_certificates()
        users = self.users()
        properties = secure_properties(self.settings, self.paths.log_dirs, self.files, users)
        _write_private(self.paths.server_properties, config.render_properties(properties))
        env = client_env(self.client_settings())
        _write_private(
            self.files.client_env,
            "# NURTURE_* settings of the `nurture` user of the local secure broker\n"
            + "".join(f"{name}={value}\n" for name, value in env.items()),
        )

    def _format_options(self) -> list[str]:
        return scram_format_options(self.users())

    def _redacted(self, text: str) -> str:
        for password in self.users().passwords():
            text = text.replace(password, "***")
        return text

    def _make_users(self) -> None:
        users = ScramUsers.random()
        stored = {
            ADMIN_USER: {"mechanism": MECHANISM, "password": users.passwords()[0]},
            CLIENT_USER: {"mechanism": MECHANISM, "password": users.passwords()[1]},
        }
        _write_private(self.files.users, json.dumps(stored, indent=2) + "\n")

    def _make_certificates(self) -> None:
        made = tls.make_broker_tls(self.settings.host)
        self.files.tls_dir.mkdir(parents=True, exist_ok=True)
        self.files.ca_cert.write_text(made.ca_cert_pem)
        self.files.broker_cert.write_text(made.broker_cert_pem)
        _write_private(self.files.ca_key, made.ca_key_pem)
        _write_private(self.files.broker_key, made.broker_key_pem)


def local_broker(settings: BrokerSettings, cache: JarCacheSettings | None = None) -> LocalBroker:
    """The local broker ``settings`` describe: secure or plaintext."""
    return SecureLocalBroker(settings, cache) if settings.secure else LocalBroker(settings, cache)
