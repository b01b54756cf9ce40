"""Schema id -> the writer schema, as the catalog knows it: cached, bounded, never a stall.

The registry's schema for an id is matched to the catalog by the fingerprint of its Parsing
Canonical Form (the same 8 bytes a single-object frame carries), so a record written by any
client with one of our published versions decodes exactly as its single-object twin. A schema
the catalog does not have (another producer registered a newer one) is taken as the writer
schema of the subject whose record has the same full name, version 0, and resolved to the
reader's version by Avro's rules.

Cache policy (ids never change meaning in a registry):

* an id that resolved, or whose schema is no subject of the contract, is kept for the life of
  the process (a few per subject: no bound needed);
* an id the registry does not know is remembered as unknown for ``unknown_id_retry_s`` (30 s),
  so a burst of such records costs one request, and a schema registered later is found after;
* when the registry does not answer (timeout, refused connection, 5xx), look-ups of ids not yet
  cached fail at once for a while instead of each waiting ``timeout_s``: a partition of records
  with new ids is dead-lettered in milliseconds, not stalled for records x timeout. The window
  grows with each failure in a row (:func:`unavailable_window_s`: ``unavailable_retry_s``, 5 s,
  doubled per failure up to ``unavailable_retry_max_s``, 60 s), so a registry that stays down
  is asked about once a minute by each process, not every 5 s, while one that comes back is
  still noticed within a minute; the first answer resets it. The error says when the registry
  is asked again (``retry_after_s``). Nothing about the outage is cached beyond that.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Protocol

from fastavro.schema import SchemaParseException, parse_schema, to_parsing_canonical_form

from schemas.catalog import Catalog, SchemaVersion, fingerprint_of
from schemas.errors import SchemaRegistryUnavailableError, UnknownSchemaIdError
from schemas.schema_registry.subjects import record_full_name

#: Decoded.version of a writer schema the catalog does not have.
FOREIGN_VERSION = 0


def unavailable_window_s(failures: int, first_s: float, max_s: float) -> float:
    """How long look-ups fail at once after ``failures`` (>= 1) requests in a row found the
    registry unavailable (pure): ``first_s`` doubled per failure after the first, at most
    ``max_s``, never less than ``first_s`` (a longer configured first window is kept)."""
    doubled = first_s * 2.0 ** min(failures - 1, 32)
    return max(first_s, min(max_s, doubled))


class SchemaSource(Protocol):
    """Where schemas come from by id: the registry's client
    (:class:`~schemas.schema_registry.client.SchemaRegistryClient`), or a test's fake."""

    url: str

    def schema_by_id(self, schema_id: int) -> str: ...


class SchemaIdResolver:
    """Writer schemas by schema id, through ``source`` and the caches above (thread-safe)."""

    def __init__(  # noqa: PLR0913 - the source, the catalog, its windows (keywords) and a clock
        self,
        source: SchemaSource,
        catalog: Catalog,
        *,
        unknown_id_retry_s: float = 30.0,
        unavailable_retry_s: float = 5.0,
        unavailable_retry_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._catalog = catalog
        self._unknown_retry = unknown_id_retry_s
        self._unavailable_retry = unavailable_retry_s
        self._unavailable_retry_max = unavailable_retry_max_s
        #: Requests in a row that found the registry unavailable (0 after any answer).
        self._failures = 0
        self._clock = clock
        self._subject_by_record = {
            record_full_name(subject.current.schema): name
            for name, subject in catalog.subjects.items()
        }
        self._resolved: dict[int, SchemaVersion | UnknownSchemaIdError] = {}
        self._unknown_until: dict[int, tuple[float, UnknownSchemaIdError]] = {}
        self._down_until = 0.0
        self._down_reason = ""
        #: The class of the failure that opened the window: an auth or wrong-URL error stays
        #: one (not retriable) for every look-up the window answers.
        self._down_error: type[SchemaRegistryUnavailableError] = SchemaRegistryUnavailableError
        self._lock = threading.Lock()
        #: Requests made to the source (for tests and diagnostics).
        self.fetches = 0

    def resolve(self, schema_id: int) -> SchemaVersion:
        """The writer schema of ``schema_id``; :class:`UnknownSchemaIdError` or
        :class:`SchemaRegistryUnavailableError`."""
        found = self._resolved.get(schema_id)
        if found is None:
            found = self._fetch(schema_id)
        if isinstance(found, UnknownSchemaIdError):
            raise found
        return found

    def remember(self, schema_id: int, version: SchemaVersion) -> None:
        """Record that ``schema_id`` is ``version`` (an encoder looked it up already)."""
        self._resolved[schema_id] = version

    def _fetch(self, schema_id: int) -> SchemaVersion | UnknownSchemaIdError:
        with self._lock:  # one request per id, even when threads ask at once
            found = self._resolved.get(schema_id)
            if found is not None:
                return found
            now = self._clock()
            unknown = self._unknown_until.get(schema_id)
            if unknown is not None and now < unknown[0]:
                return unknown[1]
            if now < self._down_until:
                wait_s = self._down_until - now
                raise self._down_error(
                    self._source.url,
                    f"{self._down_reason} (not asked again for {wait_s:.1f} s)",
                    retry_after_s=wait_s,
                )
            self.fetches += 1
            try:
                text = self._source.schema_by_id(schema_id)
            except UnknownSchemaIdError as exc:
                self._failures = 0
                self._unknown_until[schema_id] = (now + self._unknown_retry, exc)
                return exc
            except SchemaRegistryUnavailableError as exc:
                self._failures += 1
                window_s = unavailable_window_s(
                    self._failures, self._unavailable_retry, self._unavailable_retry_max
                )
                self._down_until = self._clock() + window_s
                self._down_reason = exc.reason
                self._down_error = type(exc)
                exc.retry_after_s = window_s
                raise
            self._failures = 0
            self._unknown_until.pop(schema_id, None)
            found = self._writer(schema_id, text)
            self._resolved[schema_id] = found
            return found

    def _writer(self, schema_id: int, text: str) -> SchemaVersion | UnknownSchemaIdError:
        """The catalog's version with the schema's fingerprint, else a foreign version of the
        subject with the same record name, else why it is none of ours."""
        try:
            schema = json.loads(text)
            parse_schema(schema)
            canonical = str(to_parsing_canonical_form(schema))
        except (ValueError, SchemaParseException) as exc:
            return UnknownSchemaIdError(schema_id, f"not a valid Avro schema ({exc})")
        fingerprint = fingerprint_of(schema)
        known = self._catalog.by_fingerprint.get(fingerprint)
        if known is not None:
            return known
        name = record_full_name(schema) if isinstance(schema, dict) and "name" in schema else None
        subject = self._subject_by_record.get(name or "")
        if subject is None:
            ours = ", ".join(sorted(self._subject_by_record))
            return UnknownSchemaIdError(
                schema_id,
                f"its record {name or '(not a record)'} is none of the contract's: {ours}",
            )
        return SchemaVersion(subject, FOREIGN_VERSION, schema, canonical, fingerprint)
