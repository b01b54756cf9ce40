"""State outside Kafka: the worker's row (over HTTP) and the delivery stores (SQLite files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import httpx

from deploy.erasure.findings import Finding
from schemas.codec import default_codec
from schemas.errors import NurtureError, SchemaError, SchemaRegistryUnavailableError
from schemas.schema_registry.codec import SingleObjectCodec, WireCodec

PENDING_STATES = frozenset({"sending", "retrying"})


class CheckError(NurtureError):
    """A check could not be made (worker unreachable, unreadable store): the result is unknown."""

    retriable = True


def worker_findings(worker_url: str, candidate_id: str, *, timeout_s: float) -> list[Finding]:
    """``readable`` when the worker still answers for the candidate (404 is what erasure leaves)."""
    base = worker_url.rstrip("/")
    url = f"{base}/v1/candidates/{quote(candidate_id, safe='')}/engagement"
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise CheckError(f"worker at {base} unreachable: {type(exc).__name__}") from exc
    if response.status_code == 404:
        return []
    if response.status_code == 200:
        return [Finding("worker", "readable", "engagement row in the worker's table")]
    raise CheckError(f"worker at {base} answered HTTP {response.status_code}")


def delivery_store_findings(
    data_dir: Path, candidate_id: str, wire: WireCodec | None = None
) -> list[Finding]:
    """Rows of the delivery stores (``delivery-*.sqlite``) about the candidate's actions,
    decoded with ``wire`` (None: single-object frames only; in Schema Registry mode both
    framings: :class:`CheckError` when the registry does not answer).

    Pending sends (``sending``, ``retrying``: they keep the encoded action) are ``readable``;
    final rows keep only the outcome (pseudonymous, no PII, what makes delivery once-only): info.
    """
    findings: list[Finding] = []
    codec = wire or SingleObjectCodec(default_codec())
    for path in sorted(data_dir.glob("delivery-*.sqlite")):
        place = f"delivery store {path.name}"
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = db.execute("SELECT state, action, outcome FROM deliveries").fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise CheckError(f"{place}: {exc}") from exc
        pending = final = 0
        for state, action, outcome in rows:
            blob = action if action is not None else outcome
            if blob is None:
                continue
            try:
                record = codec.decode(bytes(blob)).record
            except SchemaRegistryUnavailableError as exc:
                raise CheckError(f"{place}: not checked: {exc}") from exc
            except SchemaError:
                continue
            if record.get("candidate_id") != candidate_id:
                continue
            if state in PENDING_STATES:
                pending += 1
            else:
                final += 1
        if pending:
            findings.append(Finding(place, "readable", "pending delivery of an action", pending))
        if final:
            findings.append(
                Finding(place, "info", "final delivery outcomes (pseudonymous, no PII)", final)
            )
    return findings
