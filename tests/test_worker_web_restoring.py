"""The engagement endpoint answers 503 (not a stale row) while its worker rebalances or restores."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

from streams.scoring.config import load_model
from streams.worker.web import ENGAGEMENT_PATH, register_views


class _App:
    """What register_views uses of a faust app: route and page decorators, state flags."""

    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}
        self.rebalancing = False
        self.tables = type("Tables", (), {"recovery": type("R", (), {"in_recovery": False})()})()

    def table_route(self, **_: Any) -> Any:
        return lambda handler: handler

    def page(self, path: str) -> Any:
        def register(handler: Any) -> Any:
            self.pages[path] = handler
            return handler

        return register


class _Watch:
    def __init__(self, app: _App) -> None:
        self.app = app

    def busy(self) -> bool:
        return bool(self.app.rebalancing or self.app.tables.recovery.in_recovery)

    def lag(self) -> dict[str, int]:
        return {}


class _Web:
    def json(self, value: Any, *, status: int = 200, headers: Any = None) -> Any:
        return status, value, headers or {}


class _Table:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return None


def test_reads_wait_for_the_rebalance_and_the_restore() -> None:
    app = _App()
    register_views(app, _Table(), load_model(), _Watch(app), CollectorRegistry())  # type: ignore[arg-type]
    handler = app.pages[ENGAGEMENT_PATH]

    def ask() -> Any:
        return asyncio.run(handler(_Web(), None, "cand-1"))

    app.rebalancing = True
    status, body, headers = ask()
    assert (status, body["error"], headers["Retry-After"]) == (503, "restoring", "1")
    app.rebalancing, app.tables.recovery.in_recovery = False, True
    assert ask()[0] == 503
    app.tables.recovery.in_recovery = False
    assert ask()[0] == 404  # serving again: this candidate is simply unknown
