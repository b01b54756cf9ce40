"""`nurture score CANDIDATE_ID`: a candidate's engagement, asked of a running worker over HTTP.

Any worker answers: faust routes the request to the worker that owns the candidate's partition.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.table import Table

from deploy.cli.context import console, fail
from streams.worker.settings import WorkerSettings


def score(
    candidate_id: Annotated[str, typer.Argument(help="The candidate id (the Kafka key).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON body.")] = False,
    worker_url: Annotated[
        str | None,
        typer.Option(
            "--worker-url",
            help="A worker's base URL (default http://NURTURE_WORKER_WEB_HOST:"
            "NURTURE_WORKER_WEB_PORT, i.e. http://127.0.0.1:6066).",
        ),
    ] = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="HTTP timeout, seconds.")] = 10.0,
) -> None:
    """Score, tier and per-type contributions of CANDIDATE_ID; exit status 1 if unknown."""
    base = (worker_url or WorkerSettings().web_url).rstrip("/")
    url = f"{base}/v1/candidates/{quote(candidate_id, safe='')}/engagement"
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise fail(
            f"cannot reach the worker at {base}: {exc} (is `nurture worker` running?)"
        ) from exc
    if response.status_code == 404:
        raise fail(f"candidate {candidate_id!r} not found: the worker has no engagement for it")
    if response.status_code == 503:
        raise fail(
            "the worker owning this candidate is rebalancing or restoring its table; "
            "ask again in a few seconds"
        )
    if response.status_code != 200:
        raise fail(f"worker answered {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    if as_json:
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    _print(body)


def _print(body: dict[str, Any]) -> None:
    console.print(
        f"[bold]{body['candidate_id']}[/]  score {body['score']:.3f}  tier [bold]{body['tier']}[/]"
        f"  as of {body['as_of']}  (model {body['model_version']})",
        highlight=False,
    )
    now = body.get("now") or {}
    if now:
        console.print(f"decayed to {now['at']}: {now['score']:.3f}", highlight=False)
    table = Table("event type", "contribution", title="contributions")
    for kind, value in sorted(body["contributions"].items(), key=lambda kv: -kv[1]):
        table.add_row(kind, f"{value:.3f}")
    console.print(table)
