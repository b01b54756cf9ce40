"""The delivery store: what this channel did with each ``action_id``, on local disk (SQLite).

One row per action: ``state`` is ``sending`` (intent recorded, the send may be under way),
``retrying`` (a send failed retriably; attempt ``attempt + 1`` waits on the retry topic) or a
final outcome (``sent``, ``suppressed``, ``failed``, ``dead_lettered``). A final row also keeps
the outcome record and whether it reached ``nurture.delivery`` (``published``), so an outcome
lost in a crash is published again on restart. Every write is its own committed transaction
(``synchronous=FULL``): when a call returns, the row survives a process kill.

Endpoints that answered HTTP 410 are remembered here too and never called again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

State = Literal["sending", "retrying", "sent", "suppressed", "failed", "dead_lettered"]
FINAL_STATES: frozenset[str] = frozenset({"sent", "suppressed", "failed", "dead_lettered"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    action_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    action BLOB,
    outcome BLOB,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gone_endpoints (name TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class Delivery:
    """One row of the store."""

    action_id: str
    state: State
    attempt: int
    #: The encoded action, kept while a send is under way or waiting to retry.
    action: bytes | None
    #: The encoded outcome record of a final row.
    outcome: bytes | None
    published: bool

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class DeliveryStore:
    """Rows of one channel's deliveries in ``<data_dir>/delivery-<channel>.sqlite``."""

    def __init__(self, data_dir: Path, channel: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / f"delivery-{channel}.sqlite"
        # One thread at a time uses the store, not always the one that opened it (tests).
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, action_id: str) -> Delivery | None:
        row = self._db.execute(
            "SELECT action_id, state, attempt, action, outcome, published "
            "FROM deliveries WHERE action_id = ?",
            (action_id,),
        ).fetchone()
        return None if row is None else _row(row)

    def mark_sending(self, action_id: str, attempt: int, action: bytes) -> None:
        """Record the intent to send attempt ``attempt`` (before anything leaves the process)."""
        self._upsert(action_id, "sending", attempt, action, None)

    def mark_retrying(self, action_id: str, attempt: int, action: bytes) -> None:
        """Record that ``attempt`` failed retriably and the next one waits on the retry topic."""
        self._upsert(action_id, "retrying", attempt, action, None)

    def mark_final(self, action_id: str, state: State, attempt: int, outcome: bytes) -> None:
        """Record a final outcome (not yet published to ``nurture.delivery``)."""
        self._upsert(action_id, state, attempt, None, outcome)

    def mark_published(self, action_ids: list[str]) -> None:
        """Record that these outcomes are acknowledged by Kafka (acks=all)."""
        self._db.executemany(
            "UPDATE deliveries SET published = 1 WHERE action_id = ?",
            [(a,) for a in action_ids],
        )

    def in_state(self, state: State) -> Iterator[Delivery]:
        rows = self._db.execute(
            "SELECT action_id, state, attempt, action, outcome, published "
            "FROM deliveries WHERE state = ?",
            (state,),
        ).fetchall()
        return (_row(r) for r in rows)

    def unpublished(self) -> Iterator[Delivery]:
        rows = self._db.execute(
            "SELECT action_id, state, attempt, action, outcome, published "
            "FROM deliveries WHERE published = 0 AND outcome IS NOT NULL"
        ).fetchall()
        return (_row(r) for r in rows)

    def mark_gone(self, endpoint: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO gone_endpoints (name) VALUES (?)", (endpoint,))

    def is_gone(self, endpoint: str) -> bool:
        found = self._db.execute("SELECT 1 FROM gone_endpoints WHERE name = ?", (endpoint,))
        return found.fetchone() is not None

    def _upsert(
        self,
        action_id: str,
        state: State,
        attempt: int,
        action: bytes | None,
        outcome: bytes | None,
    ) -> None:
        self._db.execute(
            "INSERT INTO deliveries (action_id, state, attempt, action, outcome, published) "
            "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT(action_id) DO UPDATE SET "
            "state = excluded.state, attempt = excluded.attempt, action = excluded.action, "
            "outcome = excluded.outcome, published = 0",
            (action_id, state, attempt, action, outcome),
        )


def _row(row: tuple[Any, ...]) -> Delivery:
    action_id, state, attempt, action, outcome, published = row
    return Delivery(action_id, state, attempt, action, outcome, bool(published))
