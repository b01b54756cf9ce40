"""`nurture publish`: send a JSON-lines file of records to Kafka through the SDK.

Line format. Each line is one JSON object, either

* an **envelope** ``{"subject": "<subject>", "record": {...}}`` whose subject is
  ``activity_event``, ``candidate_profile`` or ``erasure_request`` (what ``nurture simulate``
  writes, so mixed files publish as a whole), or
* a **bare record** of the default subject: activity events, or profiles with ``--profiles``.

Blank lines are skipped. Records are validated by the SDK; a line that fails is not sent and is
reported with its 1-based line number and reason. A record whose ``event_id`` (or erasure
``request_id``) already appeared earlier in the same run is a duplicate: counted, not sent again.
Every accepted record is acknowledged by Kafka before the summary is final.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from producers.producer import NurtureProducer
from schemas.errors import ValidationError

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
    """Outcome of a publish run; ``published`` counts records Kafka acknowledged."""

    lines: int = 0
    published: int = 0
    duplicates: int = 0
    rejected: list[LineRejection] = field(default_factory=list)
    by_subject: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.rejected


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


def publish_lines(
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
    ``on_line`` gets the byte length of each line read (progress). Raises like
    :meth:`NurtureProducer.flush` when Kafka did not acknowledge everything.
    """
    summary = PublishSummary()
    seen: set[str] = set()
    sent = 0
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
            _send(producer, subject, record)
        except ValidationError as exc:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            rejection = LineRejection(number, exc.field, exc.reason, text)
            summary.rejected.append(rejection)
            if on_reject is not None:
                on_reject(rejection)
            continue
        if record_id is not None:
            seen.add(record_id)
        sent += 1
        summary.by_subject[subject] = summary.by_subject.get(subject, 0) + 1
    producer.flush(timeout_s)
    summary.published = sent
    return summary


def _record_id(subject: str, record: dict[str, Any]) -> str | None:
    name = _ID_FIELDS.get(subject)
    value = record.get(name) if name else None
    return value if isinstance(value, str) and value else None


def _send(producer: NurtureProducer, subject: str, record: dict[str, Any]) -> None:
    if subject == "activity_event":
        producer.send(record)
    elif subject == "candidate_profile":
        producer.upsert_profile(record)
    else:
        producer.send_erasure(record)
