"""The HTTP endpoint of a delivery consumer: Prometheus ``/metrics`` and ``GET /health``.

``/health`` answers 200 with the :meth:`~consumers.liveness.CommitWatch.status` JSON while offsets
advance (status ``ok``, or ``starting`` while the loop is built), 503 once the consumer counts
as stalled; ``"stopping": true`` once the watchdog acted (the process exits shortly after,
status 75, and the answer stays 503 until then).
Every other path is the Prometheus exposition of the injected registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import CollectorRegistry, make_wsgi_app

from consumers.liveness import CommitWatch

StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def health_app(registry: CollectorRegistry, watch: CommitWatch) -> Callable[..., Iterable[bytes]]:
    """A WSGI app: ``/health`` from ``watch``, anything else the metrics of ``registry``."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/health":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        status = watch.status()
        code = "503 Service Unavailable" if status["status"] == "stalled" else "200 OK"
        start_response(code, [("Content-Type", "application/json")])
        return [orjson.dumps(status)]

    return app


def serve_health(
    host: str, port: int, registry: CollectorRegistry, watch: CommitWatch
) -> WSGIServer:
    """Serve :func:`health_app` on ``host:port`` in a daemon thread; ``shutdown()`` stops it."""
    server = make_server(host, port, health_app(registry, watch), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="delivery-health", daemon=True).start()
    return server
