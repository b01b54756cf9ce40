"""Unsubscribes at send time: a local view of the compacted ``candidate.suppression``.

An ``unsubscribed`` activity event (the gateway's one-click link, an ESP) reaches the stream
worker, which stops deciding for that channel and publishes the candidate's unsubscribes
(channel or ``all`` -> when) to ``candidate.suppression``. An action decided before and still
waiting here (quiet hours, retries: up to the 24 h horizon) must not go out either, so delivery
keeps the latest record per candidate in memory (rebuilt at every start, caught up before each
batch, like the profiles) and refuses such actions with reason ``unsubscribed``.

Only candidate ids, channel names and times are kept: no PII.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from consumers.codecs import DeliveryCodecs, single_object_codecs
from consumers.guards import is_removal, refusal
from consumers.mirror import TopicMirror
from consumers.profiles import ProfileEntry
from schemas.consent import CONSENT_CHANNEL, unsubscribe_applies
from schemas.errors import SchemaError, SchemaRegistryUnavailableError
from schemas.kafka_seam.proto import Record
from schemas.models import CandidateProfile, NurtureAction
from schemas.settings import KafkaSettings
from schemas.timestamps import to_micros
from schemas.topics import SUPPRESSION

log = logging.getLogger(__name__)

#: The unsubscribe channel that covers every consent channel.
ALL_CHANNELS: Final = "all"

Unsubscribes = Mapping[str, datetime]
_NONE: Final[Unsubscribes] = MappingProxyType({})


class SuppressionState(TopicMirror):
    """The latest unsubscribes (consent channel or ``all`` -> when) per candidate id.

    ``codecs`` read the records (default: single-object only). A record that does not decode
    (corrupt, an unknown schema id) is skipped with a warning: the candidate keeps the
    unsubscribes of their previous record. One whose schema id waits for a registry that does
    not answer is not skipped: the view stops there (:class:`~consumers.mirror.ViewStalledError`)
    and reads it again at the next catch-up.
    """

    def __init__(self, kafka: KafkaSettings, *, codecs: DeliveryCodecs | None = None) -> None:
        self._entries: dict[str, dict[str, datetime]] = {}
        self._decode = (codecs or single_object_codecs()).decode_suppression
        super().__init__(kafka, SUPPRESSION)

    def get(self, candidate_id: str) -> Unsubscribes:
        """The candidate's unsubscribes (empty when none)."""
        return self._entries.get(candidate_id, _NONE)

    def apply(self, record: Record) -> None:
        if record.value is None:  # tombstone: the candidate was erased
            if record.key is not None:
                self._entries.pop(record.key.decode(), None)
            return
        try:
            decoded = self._decode(record.value)
        except SchemaRegistryUnavailableError:
            raise  # not now, but maybe an unsubscribe: the view waits (mirror.py)
        except SchemaError as exc:
            log.warning(
                "%s[%d] offset=%d: skipped suppression record: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return
        self._entries[str(decoded["candidate_id"])] = dict(decoded["unsubscribed"])


def unsubscribe_refusal(
    action: NurtureAction, profile: ProfileEntry | None, unsubscribed: Unsubscribes, now: datetime
) -> str | None:
    """``unsubscribed`` when the candidate unsubscribed from the action's consent channel (or
    ``all``) at or before ``now``; None otherwise.

    Channels without consent (``recruiter_alert``, ``webhook``) and removals from an ad audience
    are never refused. As in the campaign engine (streams/campaigns/guards.py), a consent
    granted *after* the unsubscribe is a new opt-in and lifts it.
    """
    channel = CONSENT_CHANNEL.get(action.channel)
    if channel is None or not unsubscribed or is_removal(action):
        return None
    consent = profile.consents.get(channel) if isinstance(profile, CandidateProfile) else None
    view = None if consent is None else consent.view()
    at_us = to_micros(now)
    for key in (channel, ALL_CHANNELS):
        when = unsubscribed.get(key)
        if unsubscribe_applies(None if when is None else to_micros(when), view, at_us):
            return "unsubscribed"
    return None


def send_refusal(
    action: NurtureAction, profile: ProfileEntry | None, unsubscribed: Unsubscribes, now: datetime
) -> str | None:
    """:func:`consumers.guards.refusal` with unsubscribes, in the campaign engine's order:
    ``no_profile`` / ``erased`` first, then ``unsubscribed``, then consent and contact."""
    if isinstance(profile, CandidateProfile):
        reason = unsubscribe_refusal(action, profile, unsubscribed, now)
        if reason is not None:
            return reason
    return refusal(action, profile, now)
