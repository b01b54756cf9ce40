"""The producer SDK: publish activity events, profile upserts and erasure requests to Kafka.

Every record is validated and encoded (:mod:`producers.records`) before anything is sent, keyed
by ``candidate_id`` (so one candidate's records stay in order on one partition) and written with
``acks=all`` and idempotence. ``send`` returns a :class:`~producers.delivery.Delivery` to wait on.

Nothing is dropped silently: a record Kafka did not acknowledge within ``delivery_timeout_s``
fails its delivery, and the next :meth:`NurtureProducer.flush` (hence ``close`` and the context
manager) raises for it even when the caller never looked at the delivery (how: the client and
its failures are kept by :class:`producers.sending.ClientSender`, which the producer extends).

Logs carry event ids, types and topics only, never record contents (profiles hold PII).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, NamedTuple, Self

from producers.client import metadata_round_trip
from producers.delivery import (
    BulkResult,
    Delivery,
    DeliveryRejectedError,
    PublishTimeoutError,
    Rejection,
)
from producers.key_shredding import shred_keys
from producers.pii import ProfileSealer
from producers.records import DictValidation, Encoded, EventInput, ProfileInput, RecordEncoder
from producers.sending import ClientSender
from producers.settings import ProducerSettings, load_producer_settings
from producers.wire import producer_wire_codec
from schemas.errors import NurtureError, ValidationError
from schemas.models import ErasureRequest
from schemas.privacy.settings import PrivacySettings, load_privacy_settings
from schemas.schema_registry.settings import SchemaRegistrySettings
from schemas.settings import KafkaSettings, load_kafka_settings
from schemas.topics import ACTIVITY, KEYS, PROFILE

log = logging.getLogger(__name__)


#: :meth:`NurtureProducer.send` checks finished sends for failures every this many sends (and
#: on the first send :data:`producers.sending.REAP_INTERVAL_S` after the previous check).
REAP_EVERY = 1024


class ErasureReceipt(NamedTuple):
    """What an erasure did: the request published and the data keys deleted."""

    request_id: str
    keys_deleted: int
    #: The erasure request's delivery (already acknowledged).
    delivery: Delivery


class NurtureProducer(ClientSender):
    """Publishes the pipeline's input records; use as a context manager or call :meth:`close`.

    The constructor connects (bootstrap) and raises :class:`KafkaUnavailableError` when no broker
    answers within ``max_block_ms``, or :class:`ConfigError` for settings Kafka refuses.
    ``dict_validation`` overrides ``settings.dict_validation`` (see :mod:`producers.records`).
    ``privacy`` supplies the key-encryption key that wraps data keys (read at the first profile).
    ``schema_registry`` (default: ``NURTURE_SCHEMA_REGISTRY_*``) picks the framing: with a URL,
    records are written in the Confluent wire format, and the constructor raises
    :class:`ConfigError` when a schema is not registered there or
    :class:`~schemas.errors.SchemaRegistryUnavailableError` when the registry does not answer.
    """

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        settings: ProducerSettings | None = None,
        *,
        dict_validation: DictValidation | None = None,
        privacy: PrivacySettings | None = None,
        schema_registry: SchemaRegistrySettings | None = None,
    ) -> None:
        kafka = kafka or load_kafka_settings()
        settings = settings or load_producer_settings()
        self._privacy = privacy
        self._sealer: ProfileSealer | None = None
        self.encoder = RecordEncoder(
            dict_validation=dict_validation or settings.dict_validation,
            wire=producer_wire_codec(kafka, schema_registry),
        )
        self._topics = {name: kafka.topic(name) for name in (ACTIVITY, PROFILE, KEYS)}
        self._activity_topic = self._topics[ACTIVITY]
        self._event_parts = self.encoder.event_parts
        super().__init__(kafka, settings)  # connects: last, once nothing else can fail

    # --- high level --------------------------------------------------------------------

    def send(self, event: EventInput) -> Delivery:
        """Validate, encode and send one activity event (a model or a dict).

        Raises :class:`ValidationError` (nothing sent) or, when no metadata could be fetched
        within ``max_block_ms``, :class:`~producers.delivery.PublishTimeoutError`. A record that
        fails later fails its :class:`Delivery` at once and the next :meth:`flush`.
        """
        key, value, headers, event_id = self._event_parts(event)  # the hot path: bench sdk
        topic = self._activity_topic
        future, client = self._client_send(topic, key, value, headers, event_id)
        delivery = Delivery(future, topic, event_id, self._deadline_s, client)
        # No errback per record (a partial, a lock and a callback list each: about a fifth of
        # the SDK's throughput); finished sends are checked for failures in bulk instead.
        self._unreaped.append(delivery)
        self._sends += 1
        if not self._sends % REAP_EVERY or time.monotonic() >= self._next_reap:
            self._reap(2 * REAP_EVERY)
        return delivery

    def upsert_profile(self, profile: ProfileInput) -> Delivery:
        """Validate, seal the contact and send a candidate profile (replaces the previous one).

        The contact is encrypted with the candidate's data key (:mod:`producers.pii`). When this
        producer has no key for the candidate yet, it first publishes a new one to
        ``candidate.keys`` and waits for its acknowledgement (raising like :meth:`Delivery.get`).
        """
        sealer = self._profile_sealer()
        sealed = sealer.seal(self.encoder, profile)
        if sealed.key_record is not None:
            self._send(sealed.key_record).get()  # the key must be in Kafka before its ciphertext
            sealer.remember(sealed.key)
        return self._send(sealed.profile)

    def upsert_profiles(
        self, profiles: Iterable[ProfileInput], *, timeout: float | None = None
    ) -> BulkResult:
        """Seal and send many profiles: their new keys first, awaited together, then the profiles.

        For bulk loads: one wait for all new keys instead of one per new candidate. Invalid
        profiles are reported, not sent. Returns once every profile is acknowledged (raising like
        :meth:`flush` when some were not within ``timeout`` seconds).
        """
        sealer = self._profile_sealer()
        sealed = []
        rejected: list[Rejection] = []
        for index, profile in enumerate(profiles):
            try:
                sealed.append(sealer.seal(self.encoder, profile))
            except ValidationError as exc:
                rejected.append(Rejection(index, exc.field, exc.reason, exc.event_id))
        keys = [(s.key, self._send(s.key_record)) for s in sealed if s.key_record is not None]
        for key, delivery in keys:  # every key in Kafka before any ciphertext that needs it
            delivery.get(timeout)
            sealer.remember(key)
        deliveries = tuple(self._send(s.profile) for s in sealed)
        self.flush(timeout)
        return BulkResult(len(sealed), tuple(rejected), deliveries)

    def request_erasure(
        self, candidate_id: str, *, source: str | None = None, reason: str | None = None
    ) -> Delivery:
        """Erase ``candidate_id``: publish an erasure request and delete the candidate's keys.

        The request goes to the profile topic under the same key (compaction then keeps this
        marker instead of the profile; the worker acts on it); then every data key of the
        candidate is tombstoned on ``candidate.keys``, so no sealed contact can be read again.
        Blocks until both are acknowledged. ``source`` defaults to ``settings.source``;
        ``reason`` must hold no PII. Returns the request's (settled) delivery.
        """
        return self.erase(candidate_id, source=source, reason=reason).delivery

    def erase(
        self, candidate_id: str, *, source: str | None = None, reason: str | None = None
    ) -> ErasureReceipt:
        """Like :meth:`request_erasure`, returning what was done (request id, keys deleted)."""
        request = {"candidate_id": candidate_id, "source": source or self.settings.source}
        if reason is not None:
            request["reason"] = reason
        return self._erase(self.encoder.erasure(request))

    def send_erasure(self, request: ErasureRequest | Mapping[str, Any]) -> Delivery:
        """Send a complete erasure request (model or dict; missing id and time are filled).

        Erases like :meth:`request_erasure`: the candidate's keys are deleted too.
        """
        return self._erase(self.encoder.erasure(request)).delivery

    def send_many(
        self, events: Iterable[EventInput], *, wait: bool = True, timeout: float | None = None
    ) -> BulkResult:
        """Validate every event, then send the valid ones; invalid ones are reported, not sent.

        With ``wait`` (default) returns once all accepted records are acknowledged, raising like
        :meth:`flush` when some were not within ``timeout`` seconds (None: the delivery timeout).
        Without it, wait on ``result.deliveries`` yourself.
        """
        encoded: list[Encoded] = []
        rejected: list[Rejection] = []
        for index, event in enumerate(events):
            try:
                encoded.append(self.encoder.event(event))
            except ValidationError as exc:
                rejected.append(Rejection(index, exc.field, exc.reason, exc.event_id))
        deliveries: list[Delivery] = []
        try:
            for record in encoded:
                deliveries.append(self._send(record))
        except NurtureError as exc:
            failure = self._partial(exc, encoded, rejected, deliveries, wait=wait, timeout=timeout)
            if failure is exc:
                raise
            raise failure from exc
        if wait:
            self.flush(timeout)
        if rejected:
            log.info("bulk send: %d accepted, %d rejected", len(encoded), len(rejected))
        return BulkResult(len(encoded), tuple(rejected), tuple(deliveries))

    def _partial(  # noqa: PLR0913 - private: the state of one send_many where it failed
        self,
        error: NurtureError,
        encoded: list[Encoded],
        rejected: list[Rejection],
        deliveries: list[Delivery],
        *,
        wait: bool,
        timeout: float | None,
    ) -> PublishTimeoutError | DeliveryRejectedError:
        """``error`` of a send mid-batch, carrying the deliveries already made (``partial``)."""
        failure: PublishTimeoutError | DeliveryRejectedError
        if isinstance(error, PublishTimeoutError | DeliveryRejectedError):
            failure = error
        else:
            topic = self._topics[encoded[len(deliveries)].topic]
            kind = PublishTimeoutError if error.retriable else DeliveryRejectedError
            failure = kind(topic, str(error))
        failure.partial = BulkResult(
            len(deliveries), tuple(rejected), tuple(deliveries), len(encoded) - len(deliveries)
        )
        failure.add_note(
            f"send_many: {len(deliveries)} record(s) sent before this error, "
            f"{len(encoded) - len(deliveries)} not sent (see the error's partial)"
        )
        if wait and deliveries:
            try:  # settle what was sent; its failures show in the deliveries
                self.flush(timeout)
            except NurtureError as flush_error:
                log.warning("flushing after a failed bulk send: %s", type(flush_error).__name__)
        return failure

    # --- low level, for the HTTP gateway -------------------------------------------------

    def encode_event(self, event: EventInput) -> tuple[bytes, bytes]:
        """Validate and encode an event without sending it: ``(key, value)``."""
        record = self.encoder.event(event)
        return record.key, record.value

    def topic(self, name: str) -> str:
        """The full Kafka name of a declared topic (e.g. ``ACTIVITY``), prefix included."""
        return self.kafka.topic(name)

    def send_encoded(
        self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> Any:
        """Send pre-encoded bytes to ``topic`` (full name); returns kafka-python's future.

        Failures still count for :meth:`flush`. Raises :class:`PublishTimeoutError` when the
        topic's metadata could not be fetched within ``max_block_ms``.
        """
        return self._kafka_send(topic, key, value, headers or [], None)

    def answers_metadata(self, timeout_s: float) -> bool:
        """True when Kafka answered a metadata request for this producer's topics in time.

        A real round trip on the producer's own connections (for readiness probes); False when
        closed or not connected.
        """
        client = self._client
        if client is None:
            return False
        return metadata_round_trip(client, self._topics.values(), timeout_s)

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:  # the body failed: still try to deliver what was sent, but keep its error
            self.close()
        except NurtureError as close_error:
            log.warning("closing the producer after an error also failed: %s", close_error)

    # --- internals -----------------------------------------------------------------------

    def _profile_sealer(self) -> ProfileSealer:
        if self._sealer is None:  # the KEK is read (or made, locally) at the first profile
            privacy = self._privacy or load_privacy_settings()
            self._sealer = ProfileSealer(privacy.key_encryption_keys())
        return self._sealer

    def _erase(self, request: Encoded) -> ErasureReceipt:
        candidate_id = request.key.decode()
        delivery = self._send(request)
        delivery.get()
        if self._sealer is not None:
            self._sealer.forget(candidate_id)
        privacy = self._privacy or load_privacy_settings()
        deleted = shred_keys(self.kafka, candidate_id, timeout_s=privacy.key_scan_timeout_s)
        log.info(
            "erasure %s: request acknowledged, %d data key(s) deleted", request.record_id, deleted
        )
        return ErasureReceipt(request.record_id, deleted, delivery)

    def _send(self, record: Encoded) -> Delivery:
        topic = self._topics[record.topic]
        future = self._kafka_send(topic, record.key, record.value, record.headers, record.record_id)
        return Delivery(future, topic, record.record_id, self._deadline_s)
