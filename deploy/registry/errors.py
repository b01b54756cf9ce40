"""The local registry's error (a :class:`~schemas.errors.NurtureError`, reported in one line)."""

from __future__ import annotations

from schemas.errors import NurtureError


class RegistryError(NurtureError):
    """Raised by the local schema registry manager (`nurture registry ...`): no Java 21+, the
    download failed or did not match its checksum, a port is taken, the registry did not start."""
