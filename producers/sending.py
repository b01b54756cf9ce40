"""How the SDK sends: one kafka-python client, replaced when wedged, and every failure counted.

A record Kafka did not acknowledge within ``delivery_timeout_s`` fails its delivery, and the
next :meth:`ClientSender.flush` (hence ``close`` and the context manager) raises for it even
when the caller never looked at the delivery. A record of the current client that timed out
makes the next send start a fresh client (the old one may be wedged, see
:mod:`producers.client`). Failures are logged with topic and id only, never record contents.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError

from producers.client import ack_deadline_s, connect, force_close
from producers.client import close as close_client
from producers.delivery import Delivery, DeliveryRejectedError, PublishTimeoutError, translate
from producers.settings import ProducerSettings
from schemas.errors import NurtureError
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)

#: A check of finished sends also runs on the first send this many seconds after the previous
#: one (slow senders; :meth:`ClientSender._reap`).
REAP_INTERVAL_S = 1.0


class ClientSender:
    """The Kafka client of a producer and the failures of what it sent.

    Connects in the constructor: raises :class:`~schemas.errors.KafkaUnavailableError` when no
    broker answers within ``max_block_ms``, or :class:`~schemas.errors.ConfigError` for
    settings Kafka refuses. Thread-safe: sends may come from many threads.
    """

    def __init__(self, kafka: KafkaSettings, settings: ProducerSettings) -> None:
        self.kafka = kafka
        self.settings = settings
        self._failures = 0
        self._first_failure: NurtureError | None = None
        self._lock = threading.Lock()
        self._deadline_s = ack_deadline_s(settings)
        self._closed = False
        #: Set (by the sender thread) when a record of the current client timed out: the client
        #: may be wedged (see producers.client), so the next send starts a fresh one.
        self._restart_pending = False
        #: Deliveries sent without an errback, not yet checked for failure, oldest first (see
        #: _reap).
        self._unreaped: deque[Delivery] = deque()
        self._sends = 0
        self._next_reap = time.monotonic() + REAP_INTERVAL_S
        self._client: Any = connect(kafka, settings)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged or failed.

        ``timeout`` defaults to the delivery deadline (``delivery_timeout_s`` plus one request
        timeout), so a flush never hangs. Raises :class:`PublishTimeoutError` when records are
        still pending then (past the deadline the Kafka client is presumed wedged and replaced,
        see :mod:`producers.client`), or the first failure (retriable
        :class:`PublishTimeoutError` or :class:`~producers.delivery.DeliveryRejectedError`) when
        records failed since the previous flush; its notes say how many.
        """
        client = self._client
        if client is None:
            return
        wait_s = self._deadline_s if timeout is None else timeout
        started = time.monotonic()
        try:
            client.flush(timeout=wait_s)
        except KafkaTimeoutError as exc:
            overdue = time.monotonic() - started >= self._deadline_s
            detail = f"records still unacknowledged after {wait_s:g} s"
            if overdue:
                self._retire(client)
                with self._lock:  # the forced close failed them; this error reports them all
                    self._failures, self._first_failure = 0, None
                self._forget(client)
                detail += " (past the delivery timeout: the Kafka client was restarted)"
            raise PublishTimeoutError("(all topics)", detail) from exc
        except KafkaError as exc:
            # kafka-python can fail the flush itself after aborting batches on a fatal error
            # (seen: UnknownError "Future not done" after MessageSizeTooLarge split storms).
            self._reap(limit=None)
            self._raise_failures()
            raise translate(exc, "(all topics)") from exc
        self._reap(limit=None)
        self._raise_failures()

    def _raise_failures(self) -> None:
        """Raise the first failure counted since the previous flush (noting how many)."""
        with self._lock:
            failures, first = self._failures, self._first_failure
            self._failures, self._first_failure = 0, None
        if first is not None:
            first.add_note(f"{failures} record(s) failed since the previous flush")
            raise first

    def close(self, timeout: float | None = None) -> None:
        """Flush (raising like :meth:`flush`), then release the connection either way."""
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            client, self._client = self._client, None
            if client is not None:
                close_client(client, timeout)

    # --- sending ------------------------------------------------------------------------

    def _kafka_send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
        record_id: str | None,
    ) -> Any:
        future, client = self._client_send(topic, key, value, headers, record_id)
        future.add_errback(self._failed, topic, record_id, client)
        return future

    def _client_send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
        record_id: str | None,
    ) -> tuple[Any, Any]:
        """kafka-python's ``send`` on the current client (a fresh one where needed): the
        record's future and the client that took it."""
        client = self._client
        if client is None or self._restart_pending:
            client = self._fresh_client(topic, record_id)
        try:
            return client.send(topic, value, key=key, headers=headers), client
        except (KafkaError, ValueError, TypeError) as exc:
            raise translate(exc, topic, record_id) from exc

    def _fresh_client(self, topic: str, record_id: str | None) -> Any:
        """Connect a client where there is none, or replace one whose records timed out."""
        if self._closed:
            raise DeliveryRejectedError(topic, "the producer is closed", event_id=record_id)
        with self._lock:
            old = self._client
            if old is not None and not self._restart_pending:
                return old  # another thread got here first
            self._client = connect(self.kafka, self.settings)  # raises KafkaUnavailableError
            self._restart_pending = False
        if old is not None:
            log.warning("records timed out: replaced the Kafka client (it may be wedged)")
            force_close(old)  # its pending records fail and are reported by the next flush
        return self._client

    def _reap(self, limit: int | None) -> None:
        """Count the failed ones among the finished sends made without an errback (the
        producer's ``send``), as an errback would have: :meth:`flush` reports them, and a
        timed-out record of the current client makes the next send start a fresh one.

        Looks at up to ``limit`` deliveries (None: all), oldest first; those still in flight go
        to the back, so one slow record holds nothing behind it. Runs every
        :data:`~producers.producer.REAP_EVERY` sends, on the first send after
        :data:`REAP_INTERVAL_S`, and in every flush: a failure is counted by the next flush at
        the latest; ``Delivery.get`` raises it at once.
        """
        failed: list[Delivery] = []
        with self._lock:
            self._next_reap = time.monotonic() + REAP_INTERVAL_S
            unreaped = self._unreaped
            for _ in range(len(unreaped) if limit is None else min(limit, len(unreaped))):
                delivery = unreaped.popleft()
                if not delivery.done():
                    unreaped.append(delivery)
                elif delivery.kafka_future.exception is not None:
                    failed.append(delivery)
        for delivery in failed:
            error = delivery.kafka_future.exception
            self._failed(delivery.topic, delivery.event_id, delivery.client, error)

    def _forget(self, client: Any) -> None:
        """Stop tracking the deliveries of ``client`` (a flush reported them all already);
        those of a newer client, sent by other threads meanwhile, stay."""
        with self._lock:
            unreaped = self._unreaped
            for _ in range(len(unreaped)):
                delivery = unreaped.popleft()
                if delivery.client is not client:
                    unreaped.append(delivery)

    def _retire(self, client: Any) -> None:
        """Stop ``client`` now; the next send connects a fresh one."""
        with self._lock:
            if self._client is client:
                self._client = None
        log.warning("records outlived the delivery timeout: restarting the Kafka client")
        force_close(client)

    def _failed(self, topic: str, record_id: str | None, client: Any, error: BaseException) -> None:
        """Errback (sender thread): remember the failure for flush and log it without PII."""
        failure = translate(error, topic, record_id)
        with self._lock:
            if failure.retriable and client is self._client:
                self._restart_pending = True
            self._failures += 1
            first = self._first_failure is None
            if first:
                self._first_failure = failure
        # One warning per flush window: a lost broker fails thousands of records at once.
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "delivery failed: topic=%s id=%s error=%s",
            topic,
            record_id,
            type(error).__name__,
        )
