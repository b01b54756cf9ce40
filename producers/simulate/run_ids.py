"""Run-scoped identifiers: the seed's content under ids that no other run used.

A seed fixes everything the simulator makes, identifiers included, so feeding the same seed to a
live pipeline twice sends the same event ids: the gateway's de-duplication (24 h) answers
``duplicate`` to all of them and the worker, which remembers recent ids, skips them too. A *run
id* gives such a run ids of its own while the content stays the seed's.

:func:`scope_record` re-derives every identifier the simulator mints (``event_id``,
``candidate_id`` and the payloads' ``action_id``, ``application_id`` and ``alert_id``) as a hash
of the run id and the seed's identifier, in the same format (a version-4 UUID stays one,
``cand-`` + 16 hex digits stays that). Names, e-mail addresses, times, types, the other payload
fields and the order are untouched. Being a function of the seed's identifier, it keeps every
reference: a candidate's profile and events share the new ``candidate_id``, an open and its
click the new ``action_id``. So each run is a new population that behaves exactly like the
seed's, and a run id reproduces its run.
"""

from __future__ import annotations

import secrets
import uuid
from hashlib import blake2b
from typing import Any

#: Top-level fields of a simulated record that hold an identifier.
RECORD_ID_FIELDS = ("event_id", "candidate_id")
#: Payload fields of a simulated event that hold an identifier.
PAYLOAD_ID_FIELDS = ("action_id", "application_id", "alert_id")


def new_run_id() -> str:
    """A fresh random run id: 8 hex digits (4 bytes from :mod:`secrets`)."""
    return secrets.token_hex(4)


def scoped_id(identifier: str, run_id: str) -> str:
    """``identifier`` as run ``run_id`` has it: same format, other digits.

    A UUID gives a version-4 UUID; ``<prefix>-<hex digits>`` (``cand-``, ``app-``, ``alert-``)
    keeps its prefix and its number of digits (up to 32). Anything else gets
    ``<identifier>-<run_id>``, which is unique too but shows the run.
    """
    digest = blake2b(f"{len(run_id)}:{run_id}:{identifier}".encode(), digest_size=16).digest()
    try:
        uuid.UUID(identifier)
    except ValueError:
        pass
    else:
        return str(uuid.UUID(bytes=digest, version=4))
    prefix, dash, digits = identifier.rpartition("-")
    if dash and 0 < len(digits) <= 2 * len(digest) and _is_hex(digits):
        return f"{prefix}-{digest.hex()[: len(digits)]}"
    return f"{identifier}-{run_id}"


def scope_record(record: dict[str, Any], run_id: str) -> dict[str, Any]:
    """A copy of a simulated profile or event whose identifiers are scoped to ``run_id``.

    ``record`` itself is not changed (nested values other than the payload are shared).
    """
    record = dict(record)
    for name in RECORD_ID_FIELDS:
        if isinstance(value := record.get(name), str):
            record[name] = scoped_id(value, run_id)
    payload = record.get("payload")
    if isinstance(payload, dict) and any(name in payload for name in PAYLOAD_ID_FIELDS):
        payload = dict(payload)
        for name in PAYLOAD_ID_FIELDS:
            if isinstance(value := payload.get(name), str):
                payload[name] = scoped_id(value, run_id)
        record["payload"] = payload
    return record


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
