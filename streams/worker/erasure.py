"""Erased candidates: a marker without personal data, so nothing can bring them back.

After an erasure request the candidate's row is deleted, but a *marker* stays in the table (and
its changelog), keyed by an HMAC-SHA256 of the candidate id under a secret of the deployment.
The marker holds only the time of the request. Events for the candidate that arrive later (late
deliveries, retries, a replay of the activity topic) find the marker and are dropped and
counted, never stored, so a rebuild cannot resurrect the candidate. Without the secret the key
cannot be linked back to an id (a plain hash could be, by hashing known ids).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import orjson

from streams.worker.step import INTERNAL_PREFIX

ERASED_PREFIX = INTERNAL_PREFIX + b"erased/"


class ErasureMarks:
    """Marker keys and values of erased candidates."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the erasure secret must have at least 16 bytes")
        self._secret = secret

    def key(self, candidate_id: str) -> bytes:
        """The table key of ``candidate_id``'s marker (no way back to the id without the secret)."""
        digest = hmac.new(self._secret, candidate_id.encode(), hashlib.sha256).hexdigest()
        return ERASED_PREFIX + digest.encode()

    @staticmethod
    def marker(requested_at_us: int) -> bytes:
        return orjson.dumps({"erased_at": requested_at_us})


def load_secret(path: Path) -> bytes:
    """The secret in ``path``, created (32 random bytes, hex, mode 0600) on first use.

    Every worker of one deployment must use the same secret: on one machine they share the
    default file; elsewhere set ``NURTURE_WORKER_ERASURE_SECRET``.
    """
    try:
        return path.read_text().strip().encode()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    try:
        os.link(temp, path)  # atomic, and fails if another worker created it first
    except FileExistsError:
        return path.read_text().strip().encode()
    finally:
        temp.unlink()
    return value.encode()
