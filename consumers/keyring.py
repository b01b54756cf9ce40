"""The candidates' data keys at send time: a local view of the compacted ``candidate.keys``.

Keys are unwrapped with the key-encryption key as they are read and kept in memory only (the
view is rebuilt from the topic at every start, like the profile view). A tombstone removes the
key: from then on every contact sealed with it is unreadable here (crypto-shredding).
"""

from __future__ import annotations

import logging

from consumers.mirror import TopicMirror
from schemas.kafka_seam.proto import Record
from schemas.privacy.data_keys import DataKey, decode_key_record, record_key
from schemas.privacy.errors import KeyRecordError
from schemas.privacy.kek import KeyEncryptionKeys
from schemas.settings import KafkaSettings
from schemas.topics import KEYS

log = logging.getLogger(__name__)


class KeyRing(TopicMirror):
    """Live data keys by ``<candidate_id>/<key_id>``, fed from ``candidate.keys``."""

    def __init__(self, kafka: KafkaSettings, keks: KeyEncryptionKeys) -> None:
        self._keks = keks
        self._keys: dict[str, DataKey] = {}
        super().__init__(kafka, KEYS)

    def key(self, candidate_id: str, key_id: str) -> DataKey | None:
        """The live data key, or None when it was erased (or never reached this view)."""
        return self._keys.get(record_key(candidate_id, key_id))

    def apply(self, record: Record) -> None:
        if record.key is None:
            return
        name = record.key.decode("utf-8", "replace")
        if record.value is None:  # erased
            self._keys.pop(name, None)
            return
        try:
            self._keys[name] = decode_key_record(record.key, record.value, self._keks)
        except KeyRecordError as exc:
            # Contacts sealed with this key stay unreadable here: usually a KEK missing from
            # NURTURE_PRIVACY_PREVIOUS_KEKS after a rotation (docs/privacy.md).
            log.error(
                "%s[%d] offset=%d: unusable data key: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
