"""The HMAC key of e-mail link tokens, shared by delivery (signs) and the gateway (verifies).

Where it comes from, first match wins:

1. ``NURTURE_DELIVERY_TRACKING_SECRET`` (both processes read this variable);
2. the file ``NURTURE_DELIVERY_TRACKING_SECRET_FILE`` names;
3. the per-install file :func:`default_secret_file`
   (``~/.local/share/candidate-nurture/tracking-secret`` on Linux).

A file that does not exist yet is created on first use with a random key (32 random bytes,
URL-safe base64), mode 0600, atomically: the first of two processes starting at once writes it,
the other reads the same key. A secret that is known (``change-me`` and the like, the old
default) or shorter than :data:`MIN_SECRET_CHARS` is refused with :class:`ConfigError`, as
anyone could forge unsubscribes, opens and clicks with it. Tests pass a long fixed secret.

The webhook signing key is found the same way (:func:`shared_secret`):
``NURTURE_DELIVERY_WEBHOOK_SECRET``, else ``NURTURE_DELIVERY_WEBHOOK_SECRET_FILE``, else
``~/.local/share/candidate-nurture/webhook-secret``; receivers verify with that key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from platformdirs import user_data_path
from pydantic import SecretStr

from schemas.errors import ConfigError

#: Fewer characters than this is refused (a generated key has 43).
MIN_SECRET_CHARS = 16
#: Placeholders that must never sign real links (compared case-insensitively).
KNOWN_WEAK: frozenset[str] = frozenset(
    {"change-me", "changeme", "change_me", "secret", "password", "tracking-secret", "test"}
)
SECRET_FILE_NAME = "tracking-secret"  # noqa: S105 (a file name, not a secret)


def default_secret_file(name: str = SECRET_FILE_NAME) -> Path:
    """A per-install secret file, beside the other local state of candidate-nurture."""
    return user_data_path("candidate-nurture") / name


def weakness(secret: str) -> str | None:
    """Why ``secret`` must not sign tokens, or None if it may (pure)."""
    if secret.strip().lower() in KNOWN_WEAK:
        return "is a well-known placeholder"
    if len(secret) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    return None


def tracking_secret(secret: SecretStr | None, secret_file: Path | None) -> str:
    """The tracking key: ``secret`` if given, else the key in ``secret_file`` (or the default
    file), made on first use. :class:`ConfigError` for a weak key or an unreadable file."""
    return shared_secret(
        secret, secret_file, variable="NURTURE_DELIVERY_TRACKING_SECRET", file_name=SECRET_FILE_NAME
    )


def shared_secret(
    secret: SecretStr | None, secret_file: Path | None, *, variable: str, file_name: str
) -> str:
    """``secret`` (from ``variable``) if given, else the key in ``secret_file`` or the default
    file ``file_name``, made on first use. :class:`ConfigError` for a weak key or a bad file."""
    if secret is not None:
        value = secret.get_secret_value()
        where = variable
    else:
        path = secret_file or default_secret_file(file_name)
        value = read_or_create(path)
        where = f"the key in {path}"
    problem = weakness(value)
    if problem is not None:
        raise ConfigError(
            f"{where} {problem}: anyone who knows it could forge what it signs; "
            f"unset it to use a generated per-install key, or set a random one"
        )
    return value


def read_or_create(path: Path) -> str:
    """The key in ``path``; when there is no such file, a new random one written there."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot read the tracking secret file {path}: {exc}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # fails if another process made it first: then read theirs
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot create the tracking secret file {path}: {exc}") from exc
