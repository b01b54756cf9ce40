"""Which actions of a channel already have a final outcome on ``nurture.delivery``.

The local delivery store dedupes what this process did; this index dedupes what *any* process
of the channel finished and published (the outcomes topic is the durable record). It matters
after a rebalance or a lost data dir: an action another process sent and recorded but whose
offset it did not commit is redelivered here, and must not be sent again. Only action ids are
kept (no PII), for the topic's retention (90 days).
"""

from __future__ import annotations

import logging

from consumers.codecs import DeliveryCodecs, single_object_codecs
from consumers.mirror import TopicMirror
from schemas.errors import SchemaError, SchemaRegistryUnavailableError
from schemas.kafka_seam.proto import Record
from schemas.settings import KafkaSettings
from schemas.topics import DELIVERY

log = logging.getLogger(__name__)


class OutcomeIndex(TopicMirror):
    """Action ids of ``channel`` with an outcome on ``nurture.delivery``.

    ``codecs`` read the records (default: single-object only). A record that does not decode
    (corrupt, an unknown schema id) is skipped with a warning: its action counts as not done
    elsewhere. One whose schema id waits for a registry that does not answer is not skipped:
    the view stops there (:class:`~consumers.mirror.ViewStalledError`), as an outcome it misses
    could let an action be sent twice.
    """

    def __init__(
        self, kafka: KafkaSettings, channel: str, *, codecs: DeliveryCodecs | None = None
    ) -> None:
        self.channel = channel
        self._done: set[str] = set()
        self._decode = (codecs or single_object_codecs()).decode_outcome
        super().__init__(kafka, DELIVERY)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._done

    def apply(self, record: Record) -> None:
        if record.value is None:
            return
        try:
            outcome = self._decode(record.value)
        except SchemaRegistryUnavailableError:
            raise  # not now: the view waits (mirror.py)
        except SchemaError as exc:
            log.warning(
                "%s[%d] offset=%d: skipped: %s", record.topic, record.partition, record.offset, exc
            )
            return
        if outcome["channel"] == self.channel:
            self._done.add(str(outcome["action_id"]))
