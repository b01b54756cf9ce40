"""A local receiver for the webhooks of `nurture up`: every request becomes a JSON line in a file.

Without ``NURTURE_DELIVERY_WEBHOOKS``, `nurture up` points the webhook endpoints of the
``recruiter_alert`` and ``ad_audience`` channels at this process instead of letting delivery
dead-letter them (``unknown_endpoint``). It receives like a real receiver would: it checks the
``Nurture-Signature`` header with the shipped :func:`consumers.webhook_signature.verify` and the
signing key delivery uses (:func:`consumers.webhook.webhook_secret`, from the same environment),
and answers 200, or 401 for a bad signature (delivery then dead-letters: permanent 4xx). Each
request, verified or not, is appended to ``<dir>/<endpoint>.jsonl`` (mode 0600: recruiter alerts
carry the candidate's name and address) as::

    {"received_at": "...", "endpoint": "recruiter_alert", "signature_valid": true,
     "idempotency_key": "<action id>", "body": {...the action as sent...}}

Run it as ``python -m deploy.up.webhook_sink --port 9180 --dir DIR`` (what `nurture up` does).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

from consumers.settings import DeliverySettings
from consumers.webhook import webhook_secret
from consumers.webhook_signature import HEADER, verify

log = logging.getLogger("nurture.webhook_sink")

#: Endpoint names the sink accepts (they become file names): the settings' names are slugs.
ENDPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Bodies larger than this are refused (413); delivery's actions are a few hundred bytes.
MAX_BODY_BYTES = 1_000_000


def sink_url(port: int, endpoint: str, host: str = "127.0.0.1") -> str:
    """The URL the sink receives ``endpoint``'s requests on."""
    return f"http://{host}:{port}/hooks/{endpoint}"


def append_line(path: Path, line: bytes) -> None:
    """Append one line to ``path``, created with mode 0600 (one write: lines never interleave)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _json_or_text(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def create_app(secret: str, out_dir: Path) -> FastAPI:
    """The sink: ``POST /hooks/{endpoint}`` records a request, ``GET /health`` answers 200."""
    app = FastAPI(title="nurture up webhook sink", docs_url=None, redoc_url=None)
    write_lock = asyncio.Lock()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/hooks/{endpoint}")
    async def receive(endpoint: str, request: Request) -> Response:
        if not ENDPOINT_NAME.fullmatch(endpoint):
            return Response(status_code=404)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return Response(status_code=413)
        valid = verify(secret, request.headers.get(HEADER, ""), body)
        line = {
            "received_at": datetime.now(UTC).isoformat(),
            "endpoint": endpoint,
            "signature_valid": valid,
            "idempotency_key": request.headers.get("Idempotency-Key"),
            "body": _json_or_text(body),
        }
        async with write_lock:
            out_dir.mkdir(parents=True, exist_ok=True)
            append_line(out_dir / f"{endpoint}.jsonl", orjson.dumps(line) + b"\n")
        if not valid:
            log.warning("%s: request with a bad or missing %s header", endpoint, HEADER)
            return Response(b'{"detail": "bad signature"}', 401, media_type="application/json")
        return Response(b'{"status": "received"}', 200, media_type="application/json")

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the sink until SIGTERM or SIGINT (uvicorn finishes requests in flight)."""
    parser = argparse.ArgumentParser(description="The local webhook receiver of nurture up.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="where the .jsonl files go")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    secret = webhook_secret(DeliverySettings())
    args.dir.mkdir(parents=True, exist_ok=True)
    log.info("webhook sink on http://%s:%d/hooks/<endpoint> -> %s", args.host, args.port, args.dir)
    # uvicorn shuts down gracefully on these, then raises them again for the previous handlers:
    # ignoring them then makes a requested stop exit 0, not "killed by SIGTERM".
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda _signum, _frame: None)
    uvicorn.run(create_app(secret, args.dir), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
