"""API keys per source system: ``Authorization: Bearer <key>`` -> the source it belongs to.

Every configured key is compared with :func:`hmac.compare_digest`, and all of them are compared
on every request (no early exit), so the time taken does not tell an attacker how much of a key
matched or which entry it was. Keys stay :class:`~pydantic.SecretStr` until compared.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import NamedTuple

from producers.gateway.errors import ForbiddenSourceError, UnauthenticatedError
from producers.gateway.settings import ApiKey
from schemas.errors import ConfigError

_SCHEME = "bearer "


class Caller(NamedTuple):
    """Who sent a request: the key's source system and a name of the key that is not the key."""

    source: str
    #: ``<source>#<n>``: the n-th key of that source in the configuration (rate limits, logs).
    key_id: str


class ApiKeyAuth:
    """Authenticates requests against the configured keys; knows the sources they belong to."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys: list[tuple[Caller, bytes]] = []
        for key in keys:
            number = 1 + sum(1 for caller, _ in self._keys if caller.source == key.source)
            caller = Caller(key.source, f"{key.source}#{number}")
            self._keys.append((caller, key.secret.get_secret_value().encode()))
        secrets = [secret for _, secret in self._keys]
        if len(set(secrets)) != len(secrets):
            raise ConfigError("the same API key is configured for two entries")
        #: Every configured source system (bounded: also used as a metric label).
        self.sources: frozenset[str] = frozenset(caller.source for caller, _ in self._keys)

    def source_of(self, authorization: str | None) -> str:
        """The source system of the request's key; :class:`UnauthenticatedError` otherwise."""
        return self.identify(authorization).source

    def identify(self, authorization: str | None) -> Caller:
        """The key of the request (source and key id); :class:`UnauthenticatedError` otherwise."""
        if not authorization:
            raise UnauthenticatedError("missing Authorization: Bearer <API key> header")
        if authorization[: len(_SCHEME)].lower() != _SCHEME:
            raise UnauthenticatedError("the Authorization header must use the Bearer scheme")
        presented = authorization[len(_SCHEME) :].strip().encode()
        found: Caller | None = None
        for caller, secret in self._keys:
            if hmac.compare_digest(presented, secret) and found is None:
                found = caller
        if found is None:
            raise UnauthenticatedError("unknown API key")
        return found


def check_source(key_source: str, claimed: object, *, where: str) -> None:
    """Refuse (403) a record whose ``source`` is set and is not the key's source system."""
    if claimed is not None and claimed != key_source:
        raise ForbiddenSourceError(
            f"{where}: source {str(claimed)[:64]!r} is not allowed for this API key "
            f"(it belongs to {key_source!r})"
        )
