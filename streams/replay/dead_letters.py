"""`nurture dlq list|show|redrive`: the dead-letter topics, read and re-published.

Dead letters of the worker (``candidate.activity.dlq``, ``candidate.profile.dlq``) carry their
origin and error in ``nurture.dlq.*`` headers (streams/worker/dlq.py); those of delivery
(``nurture.action.dlq``) carry ``nurture-reason`` (and, for actions that do not decode,
``nurture-origin``, ``nurture-error-class`` and ``nurture-error``: consumers/loop.py).

**Redrive** re-publishes a worker dead letter's original key, value and headers (the
``nurture.dlq.*`` ones removed) to the topic it came from, with its original timestamp, so the
fixed worker processes it like any event: activity events are idempotent by ``event_id`` (a
redriven event the worker already counted is a duplicate), profiles by content. Once the
re-published records are acknowledged, a **redrive marker** is appended to the same
dead-letter topic: a record with no value, the dead letter's key and the header
``nurture.dlq.redriven`` = ``<partition>:<offset>`` of the dead letter. Markers live in the
topic they describe (same retention, no extra topic to declare); `list` hides them and shows
the letters they mark as redriven, and `redrive` skips marked letters, so running it twice
re-publishes nothing the second time. A crash between re-publishing and the marker can
re-publish a letter once more on the next run; the worker's de-duplication absorbs that.

Of ``nurture.action.dlq`` only the letters of actions delivery could not *decode* are redriven
(``nurture-reason: schema_error``, e.g. ``SchemaRegistryUnavailableError`` while the registry
was down, or ``UnknownSchemaIdError``): delivery recorded nothing for them, so the original
record goes back to the topic it was read from (``nurture-origin``): its key, value, timestamp
and headers, which the letter keeps before delivery's four (consumers/loop.py). An action from
``nurture.action`` is delivered like any action; a record from ``nurture.action.retry`` goes
back there with its attempt, due time and first attempt, so the retry path takes it up where it
stopped (on ``nurture.action``, without them, delivery would skip it: its store says the next
attempt comes from the retry topic). A resend is idempotent by the deterministic ``action_id``:
a copy of an action this channel already finished is a no-op in delivery (its store, or the
outcome on ``nurture.delivery``), which also covers the letter every channel's consumer writes
for the same undecodable record. The other action letters (``retry_horizon``, ``http_rejected``,
...) are listed and shown but refused: delivery recorded those actions as final
(``dead_lettered``) under their ``action_id``, so a re-published copy would be a no-op by
design. Nor is a *truncated* letter redriven (header ``nurture.dlq.truncated``: the worker kept
only the start of a record over its size limit, streams/worker/dlq.py): re-publishing the cut
copy would publish a record nobody sent. It is listed and shown; the original is still at its
origin offset within the source topic's retention.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTION, ACTION_DLQ, ACTION_RETRY, ACTIVITY_DLQ, PROFILE_DLQ
from streams.replay.errors import ReplayError
from streams.replay.reader import read_topic, topic_reader
from streams.worker.dlq import (
    HEADER_ERROR_CLASS,
    HEADER_ERROR_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
    HEADER_TRUNCATED,
)

HEADER_REDRIVEN = "nurture.dlq.redriven"
HEADER_REDRIVEN_AT = "nurture.dlq.redriven_at"
#: Dead-letter topics (unprefixed). The worker's letters are redriven to their origin topic;
#: delivery's only for the reasons in :data:`REDRIVABLE_ACTION_REASONS`.
DLQ_TOPICS = (ACTIVITY_DLQ, PROFILE_DLQ, ACTION_DLQ)
#: ``nurture-reason`` of action letters delivery recorded nothing final for: the action did not
#: decode (consumers/loop.py), so it was never handled and a redrive delivers it.
REDRIVABLE_ACTION_REASONS = frozenset({"schema_error"})
#: Headers delivery adds to its dead letters (consumers/handling.py, consumers/loop.py),
#: removed when a letter is redriven: the action did not carry them.
ACTION_DLQ_HEADERS = frozenset(
    {
        "nurture-reason",
        "nurture-channel",
        "nurture-attempt",
        "nurture-origin",
        "nurture-error-class",
        "nurture-error",
    }
)

#: Headers delivery adds, after the record's own, to the letter of an action that does not
#: decode (consumers/loop.py); ``nurture-origin`` is ``<topic>[<partition>] offset=<offset>``.
SCHEMA_ERROR_HEADERS = ("nurture-reason", "nurture-origin", "nurture-error-class", "nurture-error")
_ORIGIN = re.compile(r"(?P<topic>.+)\[(?P<partition>\d+)\] offset=(?P<offset>\d+)")

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as read back, with where it came from and why."""

    dlq_topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    origin_topic: str | None
    origin_partition: int | None
    origin_offset: int | None
    error_class: str
    error_message: str
    #: Delivery's ``nurture-reason`` (``schema_error``, ``retry_horizon``, ...); None for the
    #: worker's letters.
    reason: str | None = None
    redriven: bool = False

    @property
    def letter_id(self) -> str:
        """``<dlq topic>:<partition>:<offset>``: what `dlq show` takes."""
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    @property
    def truncated(self) -> bool:
        """True when the worker kept only part of the original record (too large)."""
        return any(key == HEADER_TRUNCATED for key, _ in self.headers)

    @property
    def original_headers(self) -> Headers:
        """The headers the record had before it was dead-lettered (the worker's letters keep
        them beside its ``nurture.dlq.*`` ones; delivery's ``schema_error`` letters before its
        own, which may repeat a name of theirs: a retry record's ``nurture-reason``; delivery's
        other letters keep none)."""
        if self.reason in REDRIVABLE_ACTION_REASONS:
            return _without_last(self.headers, SCHEMA_ERROR_HEADERS)
        if self.reason is not None:
            return [(k, v) for k, v in self.headers if k not in ACTION_DLQ_HEADERS]
        return [(k, v) for k, v in self.headers if not k.startswith("nurture.dlq.")]

    def matches(self, error: str) -> bool:
        """True when ``error`` is this letter's error class or delivery's reason for it."""
        return error in (self.error_class, self.reason)


def parse(
    dlq_topic: str, record: object, *, action_topic: str, retry_topic: str | None = None
) -> DeadLetter:
    """A dead letter from a consumer record of ``dlq_topic`` (either header convention);
    delivery's come from ``action_topic``, or from ``retry_topic`` when ``nurture-origin``
    names it."""
    headers: Headers = list(getattr(record, "headers", None) or ())
    found = {k: v.decode("utf-8", "replace") for k, v in headers}  # the last of a name
    reason: str | None = None
    if HEADER_ERROR_CLASS in found:
        origin = found.get(HEADER_TOPIC)
        partition = _int(found.get(HEADER_PARTITION))
        offset = _int(found.get(HEADER_OFFSET))
        error, message = found[HEADER_ERROR_CLASS], found.get(HEADER_ERROR_MESSAGE, "")
    else:  # delivery's dead letters: an action that did not decode names its error class
        origin, partition, offset = _delivery_origin(
            found.get("nurture-origin", ""), action_topic, retry_topic
        )
        reason = found.get("nurture-reason", "unknown")
        error = found.get("nurture-error-class", reason)
        message = found.get(
            "nurture-error", found.get("nurture-origin", found.get("nurture-channel", ""))
        )
    return DeadLetter(
        dlq_topic=dlq_topic,
        partition=int(getattr(record, "partition", 0)),
        offset=int(getattr(record, "offset", 0)),
        timestamp_ms=int(getattr(record, "timestamp", 0)),
        key=getattr(record, "key", None),
        value=getattr(record, "value", None),
        headers=headers,
        origin_topic=origin,
        origin_partition=partition,
        origin_offset=offset,
        error_class=error,
        error_message=message,
        reason=reason,
    )


def dlq_topics(kafka: KafkaSettings, which: str | None) -> list[str]:
    """Full names of the dead-letter topics to read (``which``: one of them, or all)."""
    if which is None:
        return [kafka.topic(t) for t in DLQ_TOPICS]
    for name in DLQ_TOPICS:
        if which in (name, kafka.topic(name), name.removesuffix(".dlq").rsplit(".", 1)[-1]):
            return [kafka.topic(name)]
    raise ReplayError(f"{which!r} is not a dead-letter topic: {', '.join(DLQ_TOPICS)}")


def read_letters(
    kafka: KafkaSettings,
    topics: Iterable[str],
    *,
    error_class: str | None = None,
    since_ms: int | None = None,
) -> Iterator[DeadLetter]:
    """The dead letters of ``topics`` (markers applied, then filtered), oldest first per
    partition. ``error_class`` selects a letter by its error class or, for delivery's, its
    ``nurture-reason`` (``--error schema_error`` or ``--error UnknownSchemaIdError``)."""
    with topic_reader(kafka) as reader:
        for topic in topics:
            letters: list[DeadLetter] = []
            redriven: set[tuple[int, int]] = set()
            for record in read_topic(reader, topic):
                marker = dict(record.headers or ()).get(HEADER_REDRIVEN)
                if marker is not None:
                    partition, offset = marker.decode().split(":")
                    redriven.add((int(partition), int(offset)))
                    continue
                letters.append(
                    parse(
                        topic,
                        record,
                        action_topic=kafka.topic(ACTION),
                        retry_topic=kafka.topic(ACTION_RETRY),
                    )
                )
            for letter in letters:
                if error_class is not None and not letter.matches(error_class):
                    continue
                if since_ms is not None and letter.timestamp_ms < since_ms:
                    continue
                marked = (letter.partition, letter.offset) in redriven
                yield replace(letter, redriven=True) if marked else letter


def find_letter(kafka: KafkaSettings, letter_id: str) -> DeadLetter:
    """The dead letter ``<dlq topic>:<partition>:<offset>`` (:class:`ReplayError` if none)."""
    try:
        topic, partition, offset = letter_id.rsplit(":", 2)
        wanted = (int(partition), int(offset))
    except ValueError:
        raise ReplayError(f"{letter_id!r}: expected <dlq topic>:<partition>:<offset>") from None
    for letter in read_letters(kafka, dlq_topics(kafka, topic)):
        if (letter.partition, letter.offset) == wanted:
            return letter
    raise ReplayError(f"no dead letter {letter_id}")


@dataclass
class RedriveReport:
    redriven: list[DeadLetter]
    already: int
    #: Action letters delivery recorded as final (any reason but ``schema_error``).
    not_redrivable: int
    #: Letters holding only part of their record (too large): never re-published.
    truncated: int = 0
    #: The letters counted in :attr:`not_redrivable`.
    refused: list[DeadLetter] = field(default_factory=list)


#: A retry record's attempt header (``consumers.retries.ATTEMPT_HEADER``: streams/ may not
#: import delivery; tests/test_dlq_action_redrive.py checks the two agree).
RETRY_ATTEMPT_HEADER = "nurture-attempt"


def refusal(kafka: KafkaSettings, letter: DeadLetter) -> str | None:
    """Why :func:`redrive` would not re-publish ``letter`` (already redriven or truncated
    aside); None when it would: the worker's letters with an origin, and delivery's that it
    recorded nothing for."""
    if not letter.origin_topic:
        return "it names no origin topic"
    if letter.dlq_topic == kafka.topic(ACTION_DLQ):
        if letter.reason not in REDRIVABLE_ACTION_REASONS:
            return (
                f"delivery recorded the action as final ({letter.reason}): a copy would be a no-op"
            )
        if letter.origin_topic == kafka.topic(ACTION_RETRY) and not any(
            name == RETRY_ATTEMPT_HEADER for name, _ in letter.original_headers
        ):
            return (
                "a retry record's letter without its retry headers (written before delivery "
                "kept them): delivery, mid-retry for that action, would skip the copy"
            )
        return None
    if letter.dlq_topic in {kafka.topic(ACTIVITY_DLQ), kafka.topic(PROFILE_DLQ)}:
        return None
    return f"{letter.dlq_topic} is no dead-letter topic redrive knows"


def _from_a_redrivable_topic(kafka: KafkaSettings, letter: DeadLetter) -> bool:
    return refusal(kafka, letter) is None


def redrivable(kafka: KafkaSettings, letter: DeadLetter) -> bool:
    """True when :func:`redrive` would re-publish ``letter``."""
    return not letter.redriven and not letter.truncated and _from_a_redrivable_topic(kafka, letter)


def redrive(kafka: KafkaSettings, letters: Iterable[DeadLetter]) -> RedriveReport:
    """Re-publish ``letters`` (not those already redriven) to their origin topics, then mark
    them redriven; see the module docstring."""
    report = RedriveReport([], 0, 0)
    todo = []
    for letter in letters:
        if letter.redriven:
            report.already += 1
        elif not _from_a_redrivable_topic(kafka, letter):
            report.not_redrivable += 1
            report.refused.append(letter)
        elif letter.truncated:
            report.truncated += 1
        else:
            todo.append(letter)
    if not todo:
        return report
    producer = clients.producer(kafka, acks="all", linger_ms=10)
    try:
        _send_all(
            producer,
            [
                (d.origin_topic or "", d.key, d.value, d.original_headers, d.timestamp_ms)
                for d in todo
            ],
        )
        now = str(int(time.time() * 1000)).encode()
        _send_all(
            producer,
            [
                (
                    d.dlq_topic,
                    d.key,
                    None,
                    [
                        (HEADER_REDRIVEN, f"{d.partition}:{d.offset}".encode()),
                        (HEADER_REDRIVEN_AT, now),
                    ],
                    None,
                )
                for d in todo
            ],
        )
    finally:
        producer.close()
    report.redriven = todo
    return report


def _send_all(
    producer: Any,  # kafka-python's KafkaProducer, from clients.producer
    records: list[tuple[str, bytes | None, bytes | None, Headers, int | None]],
) -> None:
    futures = [
        producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=ts)
        for topic, key, value, headers, ts in records
    ]
    producer.flush()
    for future in futures:
        future.get(timeout=30)


def _delivery_origin(
    origin: str, action_topic: str, retry_topic: str | None
) -> tuple[str, int | None, int | None]:
    """Topic, partition and offset a delivery letter's ``nurture-origin`` names, when that is
    the action or the retry topic; else the action topic (letters of actions delivery handled
    name no origin)."""
    where = _ORIGIN.fullmatch(origin)
    if where is None or where["topic"] not in (action_topic, retry_topic):
        return action_topic, None, None
    return where["topic"], int(where["partition"]), int(where["offset"])


def _without_last(headers: Headers, names: Iterable[str]) -> Headers:
    """``headers`` without the last header of each of ``names`` (those added last)."""
    kept = list(headers)
    for name in names:
        last = max((i for i, (key, _) in enumerate(kept) if key == name), default=None)
        if last is not None:
            del kept[last]
    return kept


def _int(text: str | None) -> int | None:
    return None if text is None or not text.lstrip("-").isdigit() else int(text)
