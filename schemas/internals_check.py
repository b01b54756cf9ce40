"""The start-up check every seam around a library's private members runs (no client library
imported here: each seam lists its own members and calls these).

A seam names each member it uses as ``(class, member, who needs it)``; :func:`missing` reads
the installed classes and :func:`require` fails in one line naming the library, its installed
version, the first missing member and the tested version, before anything starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version

from schemas.errors import ConfigError

#: ``(class, member, who needs it)``.
Member = tuple[type, str, str]


class MissingInternalsError(ConfigError):
    """Raised at start-up when an installed library lacks a member a seam depends on."""


def has_member(cls: type, name: str) -> bool:
    """True when ``cls`` (or a base) defines ``name``, declares it as an instance attribute or
    assigns it in ``__init__`` (read off its compiled code)."""
    if hasattr(cls, name):
        return True
    if any(name in getattr(base, "__annotations__", {}) for base in cls.__mro__):
        return True
    return assigns(cls, "__init__", name)


def assigns(cls: type, method: str, name: str) -> bool:
    """True when ``cls.method`` assigns or reads an attribute called ``name``."""
    code = getattr(getattr(cls, method, None), "__code__", None)
    return code is not None and name in code.co_names


def missing(members: Iterable[Member]) -> list[str]:
    """One line per member the installed classes lack (empty: all there)."""
    return [
        f"{cls.__module__}.{cls.__qualname__}.{name} (needed by {why})"
        for cls, name, why in members
        if not has_member(cls, name)
    ]


def require(library: str, tested_version: str, lacking: list[str], user: str) -> None:
    """Raise :class:`MissingInternalsError` in one line when ``lacking`` is not empty."""
    if lacking:
        more = f" and {len(lacking) - 1} more" if len(lacking) > 1 else ""
        raise MissingInternalsError(
            f"{library} {version(library)} lacks {lacking[0]}{more}; "
            f"{user} is tested with {library} {tested_version}"
        )
