"""`nurture publish`: send a JSON-lines file of records to Kafka through the SDK.

Line format. Each line is one JSON object, either

* an **envelope** ``{"subject": "<subject>", "record": {...}}`` whose subject is
  ``activity_event``, ``candidate_profile`` or ``erasure_request`` (what ``nurture simulate``
  writes, so mixed files publish as a whole), or
* a **bare record** of the default subject: activity events, or profiles with ``--profiles``.

Blank lines are skipped. Records are validated by the SDK; a line that fails is not sent and is
reported with its 1-based line number and reason. A record whose ``event_id`` (or erasure
``request_id``) already appeared earlier in the same run is a duplicate: counted, not sent again.
The summary counts records Kafka acknowledged (``acked``), not sends. When Kafka fails
mid-file the run stops reading, waits (bounded) for what was sent, and still returns the summary:
``error`` holds the failure and ``failed`` the records sent but not acknowledged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from producers.delivery import Delivery
from producers.producer import NurtureProducer
from schemas.errors import NurtureError, ValidationError

SUBJECTS = ("activity_event", "candidate_profile", "erasure_request")
_ID_FIELDS = {"activity_event": "event_id", "erasure_request": "request_id"}


@dataclass(frozen=True, slots=True)
class LineRejection:
    """A line that was not published: where it is and why."""

    line: int
    field: str
    reason: str
    #: The line as read (for the rejects file, so it can be fixed and published again).
    text: str

    def to_json(self) -> bytes:
        """The rejects-file line: ``{"line", "field", "reason", "input"}``."""
        body = {"line": self.line, "field": self.field, "reason": self.reason, "input": self.text}
        return orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE)


@dataclass
class PublishSummary:
    """Outcome of a publish run.

    ``sent`` records went to the Kafka client, ``acked`` of them were acknowledged (acks=all),
    ``failed`` were not (refused, timed out, or still unsettled when the run gave up); ``error``
    is the Kafka failure that ended or spoiled the run (None when all went well).
    """

    lines: int = 0
    sent: int = 0
    acked: int = 0
    failed: int = 0
    duplicates: int = 0
    rejected: list[LineRejection] = field(default_factory=list)
    by_subject: dict[str, int] = field(default_factory=dict)
    error: NurtureError | None = None

    @property
    def published(self) -> int:
        """Records Kafka acknowledged."""
        return self.acked

    @property
    def ok(self) -> bool:
        return not self.rejected and self.error is None


class _Acks:
    """Counts acknowledgements as kafka-python reports them (on its sender thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acked = 0

    def watch(self, delivery: Delivery) -> None:
        delivery.kafka_future.add_callback(self._acked)

    def _acked(self, _metadata: Any) -> None:
        with self._lock:
            self.acked += 1


def parse_line(text: bytes, default_subject: str) -> tuple[str, dict[str, Any]]:
    """The subject and record of one line; :class:`ValidationError` when it is not usable."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValidationError("(line)", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("(line)", f"expected a JSON object, got {type(data).__name__}")
    if set(data) == {"subject", "record"} and isinstance(data["record"], dict):
        subject = data["subject"]
        if subject not in SUBJECTS:
            raise ValidationError("subject", f"unknown subject {subject!r}; known: {SUBJECTS}")
        return subject, data["record"]
    return default_subject, data


def publish_lines(  # noqa: PLR0913 - keyword-only options and callbacks of one public function
    lines: Iterable[bytes],
    producer: NurtureProducer,
    *,
    default_subject: str = "activity_event",
    on_reject: Callable[[LineRejection], None] | None = None,
    on_line: Callable[[int], None] | None = None,
    timeout_s: float | None = None,
) -> PublishSummary:
    """Validate and send each line; wait for every acknowledgement at the end.

    ``on_reject`` sees each rejected line as it happens (e.g. to write the rejects file);
    ``on_line`` gets the byte length of each line read (progress). Kafka failures do not raise:
    the summary's ``error`` and ``failed`` report them (reading stops at a send that failed).
    """
    summary = PublishSummary()
    acks = _Acks()
    seen: set[str] = set()
    try:
        for number, raw in enumerate(lines, start=1):
            summary.lines = number
            if on_line is not None:
                on_line(len(raw))
            if not raw.strip():
                continue
            try:
                subject, record = parse_line(raw, default_subject)
                record_id = _record_id(subject, record)
                if record_id is not None and record_id in seen:
                    summary.duplicates += 1
                    continue
                delivery = _send(producer, subject, record)
            except ValidationError as exc:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                rejection = LineRejection(number, exc.field, exc.reason, text)
                summary.rejected.append(rejection)
                if on_reject is not None:
                    on_reject(rejection)
                continue
            acks.watch(delivery)
            if record_id is not None:
                seen.add(record_id)
            summary.sent += 1
            summary.by_subject[subject] = summary.by_subject.get(subject, 0) + 1
    except NurtureError as exc:  # Kafka failed mid-file: stop, settle what was sent
        summary.error = exc
    try:
        producer.flush(timeout_s)
    except NurtureError as exc:
        summary.error = summary.error or exc
    summary.acked = acks.acked
    summary.failed = summary.sent - summary.acked
    return summary


def _record_id(subject: str, record: dict[str, Any]) -> str | None:
    name = _ID_FIELDS.get(subject)
    value = record.get(name) if name else None
    return value if isinstance(value, str) and value else None


def _send(producer: NurtureProducer, subject: str, record: dict[str, Any]) -> Delivery:
    if subject == "activity_event":
        return producer.send(record)
    if subject == "candidate_profile":
        return producer.upsert_profile(record)
    return producer.send_erasure(record)
