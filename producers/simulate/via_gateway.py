"""Send simulated records through the HTTP gateway instead of the SDK (``--via gateway``).

Activity events are POSTed to ``/v1/events`` in batches of up to :data:`MAX_BATCH` (one keep-alive
httpx connection), profiles PUT to ``/v1/candidates/{id}/profile`` one by one. The gateway refuses
a record whose ``source`` is not the API key's source system, so keys are chosen per source:

* :class:`SourceKeys` maps each source to its key (a ``source=KEY`` file, the format
  ``nurture up`` writes to ``~/.local/share/candidate-nurture/gateway-api-keys``); a batch only
  holds events of one source;
* records whose source has no key there use the ``fallback`` key when one is given, and are sent
  **without** their ``source``: the gateway stamps the key's own source (e.g. ``simulator``).

Per-candidate order is kept: an event waits in its source's batch, and when a later event of the
same candidate belongs to another source, the waiting batch is sent first.

429 and 503 answers are retried after their ``Retry-After`` (at most ``max_retries`` times per
batch; a 503 resends only the events still ``unavailable``, so accepted ones are not counted twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from producers.simulate.generate import SimRecord
from producers.simulate.output import Pacer
from schemas.errors import NurtureError

#: Most events per POST (the gateway accepts up to 500 by default).
MAX_BATCH = 100
_RETRY_STATUSES = frozenset({429, 503})
_JSON = {"Content-Type": "application/json"}


class GatewaySendError(NurtureError):
    """Raised when the gateway refused a request for good or kept answering 429/503.

    ``retriable`` is set when the gateway was busy or Kafka unavailable (try again later).
    """

    def __init__(self, what: str, status: int | None, detail: str, *, retriable: bool) -> None:
        self.status = status
        self.retriable = retriable
        answered = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"gateway refused {what} ({answered}): {detail}")


@dataclass(frozen=True)
class SourceKeys:
    """API keys by source system, and the key for every other source (None: none)."""

    by_source: dict[str, SecretStr] = field(default_factory=dict)
    fallback: SecretStr | None = None

    def key_for(self, source: str) -> tuple[SecretStr, bool]:
        """The key for records of ``source`` and whether they keep their ``source`` field."""
        key = self.by_source.get(source)
        if key is not None:
            return key, True
        if self.fallback is not None:
            return self.fallback, False
        known = ", ".join(sorted(self.by_source)) or "none"
        raise GatewaySendError(
            f"records of source {source!r}",
            None,
            f"no API key for it (keys file has: {known}); add '{source}=KEY' or pass --api-key",
            retriable=False,
        )


@dataclass
class GatewayCounts:
    """Outcomes as the gateway reported them, per event (profiles count as accepted or not)."""

    profiles: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    #: Events still unavailable or failed after the retries.
    failed: int = 0
    rejections: list[str] = field(default_factory=list)


@dataclass
class _Batch:
    key: SecretStr
    events: list[dict[str, Any]] = field(default_factory=list)


class GatewaySender:
    """Posts simulated records to one gateway; use as a context manager."""

    def __init__(  # noqa: PLR0913 - keyword-only retry settings and test seams (sleep, transport)
        self,
        base_url: str,
        keys: SourceKeys,
        *,
        batch_size: int = MAX_BATCH,
        max_retries: int = 5,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.keys = keys
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.max_retries = max_retries
        self.counts = GatewayCounts()
        self._sleep = sleep
        self._client = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)
        self._batches: dict[str, _Batch] = {}
        #: Candidate id -> the source whose batch holds their latest unsent event.
        self._waiting: dict[str, str] = {}

    def __enter__(self) -> GatewaySender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()

    def add(self, sim: SimRecord) -> None:
        """Queue or send one record (events batched per source, profiles at once)."""
        record = sim.record
        key, keep_source = self.keys.key_for(record["source"])
        body = record if keep_source else {k: v for k, v in record.items() if k != "source"}
        if sim.subject == "candidate_profile":
            self._put_profile(record["candidate_id"], body, key)
            return
        self.counts.events += 1
        source, candidate = record["source"], record["candidate_id"]
        waiting = self._waiting.get(candidate)
        if waiting is not None and waiting != source:
            self._flush(waiting)  # keep this candidate's events in order
        batch = self._batches.setdefault(source, _Batch(key))
        batch.events.append(body)
        self._waiting[candidate] = source
        if len(batch.events) >= self.batch_size:
            self._flush(source)

    def flush(self) -> None:
        """Send every waiting batch."""
        for source in list(self._batches):
            self._flush(source)

    def _flush(self, source: str) -> None:
        batch = self._batches.pop(source, None)
        if batch is None or not batch.events:
            return
        for event in batch.events:
            if self._waiting.get(event["candidate_id"]) == source:
                del self._waiting[event["candidate_id"]]
        self._post_events(batch)

    def _post_events(self, batch: _Batch) -> None:
        todo = batch.events
        counts = self.counts
        for attempt in range(self.max_retries + 1):
            response = self._request("POST", "/v1/events", {"events": todo}, batch.key)
            if response.status_code == 429 and attempt < self.max_retries:
                self._sleep(_retry_after(response))
                continue
            if response.status_code not in (202, 422, 500, 503):
                raise _refusal(f"a batch of {len(todo)} events", response)
            answer = response.json()
            again = []
            for result in answer["results"]:
                status = result["status"]
                if status == "accepted":
                    counts.accepted += 1
                elif status == "duplicate":
                    counts.duplicates += 1
                elif status == "rejected":
                    counts.rejected += 1
                    counts.rejections.append(_rejection(result))
                elif status == "unavailable":
                    again.append(todo[result["index"]])
                else:
                    counts.failed += 1
            if not again:
                return
            if attempt < self.max_retries:
                todo = again
                self._sleep(_retry_after(response))
        counts.failed += len(again)

    def _put_profile(self, candidate_id: str, body: dict[str, Any], key: SecretStr) -> None:
        path = f"/v1/candidates/{candidate_id}/profile"
        self.counts.profiles += 1
        for attempt in range(self.max_retries + 1):
            response = self._request("PUT", path, body, key)
            if response.status_code == 202:
                self.counts.accepted += 1
                return
            if response.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                self._sleep(_retry_after(response))
                continue
            if response.status_code == 422:
                self.counts.rejected += 1
                self.counts.rejections.append(f"profile {candidate_id}: {_detail(response)}")
                return
            raise _refusal(f"the profile of {candidate_id}", response)

    def _request(self, method: str, path: str, body: Any, key: SecretStr) -> httpx.Response:
        headers = {**_JSON, "Authorization": f"Bearer {key.get_secret_value()}"}
        content = orjson.dumps(body, option=orjson.OPT_UTC_Z)
        try:
            return self._client.request(method, path, content=content, headers=headers)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise GatewaySendError(f"{method} {path}", None, detail, retriable=True) from exc


def send_via_gateway(
    records: Iterable[SimRecord],
    sender: GatewaySender,
    pacer: Pacer | None = None,
    on_record: Callable[[SimRecord], None] | None = None,
) -> GatewayCounts:
    """Send ``records`` through ``sender`` (paced by events), then every waiting batch."""
    for sim in records:
        if pacer is not None and sim.subject == "activity_event" and not pacer.tick():
            break
        sender.add(sim)
        if on_record is not None:
            on_record(sim)
    sender.flush()
    return sender.counts


def batch_size_for(rate: float | None) -> int:
    """Events per POST: :data:`MAX_BATCH`, or about a tenth of a second's worth under ``rate``."""
    if rate is None:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, int(rate / 10)))


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, min(float(response.headers.get("retry-after", "1")), 60.0))
    except ValueError:
        return 1.0


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail") or body.get("error") or body)[:200]


def _refusal(what: str, response: httpx.Response) -> GatewaySendError:
    status = response.status_code
    return GatewaySendError(what, status, _detail(response), retriable=status in _RETRY_STATUSES)


def _rejection(result: dict[str, Any]) -> str:
    errors = result.get("errors") or []
    reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return f"event {result.get('event_id')}: {reasons}"
