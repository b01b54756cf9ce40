"""Sealing profile contacts before they reach Kafka: one module for the SDK and the gateway.

A profile upsert becomes up to two records: the candidate's data key on ``candidate.keys``
(only when this process has no key for the candidate yet) and the profile with its contact
sealed. **Publish the key record and wait for its acknowledgement before sending the profile**:
a ciphertext whose key never reached Kafka could never be read.

A producer never reads the key topic: it creates a fresh key (fresh ``key_id``) the first time it
seals for a candidate and reuses it while the key stays in its cache (LRU, ``cache_size``
candidates). Two processes, or two threads, sealing for one candidate at once therefore each
write their own key record under its own record key, and every ciphertext names the key that
opens it: nothing is overwritten, nothing becomes unreadable except by erasure
(docs/privacy.md). Erasure through the same producer forgets the candidate's cached key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from producers.records import Encoded, ProfileInput, RecordEncoder, headers_for
from schemas.privacy.data_keys import DataKey, encode_key_record, new_data_key
from schemas.privacy.kek import KeyEncryptionKeys
from schemas.topics import KEYS

#: Candidates whose data key a producer keeps in memory.
CACHE_SIZE = 100_000


class SealedProfile(NamedTuple):
    """The records of one profile upsert, in the order they must reach Kafka."""

    #: The new data key's record (publish and await it first), or None for a cached key.
    key_record: Encoded | None
    key: DataKey
    profile: Encoded


class ProfileSealer:
    """Validates, seals and encodes profiles; remembers the data keys that reached Kafka."""

    def __init__(self, keks: KeyEncryptionKeys, *, cache_size: int = CACHE_SIZE) -> None:
        self.keks = keks
        self._cache_size = cache_size
        self._keys: OrderedDict[str, DataKey] = OrderedDict()
        self._lock = threading.Lock()

    def seal(self, encoder: RecordEncoder, profile: ProfileInput) -> SealedProfile:
        """The records of ``profile`` (ValidationError naming the field, nothing sealed)."""
        model = encoder.profile_model(profile)
        candidate_id = model.candidate_id
        with self._lock:
            key = self._keys.get(candidate_id)
            if key is not None:
                self._keys.move_to_end(candidate_id)
        key_record = None
        if key is None:
            key = new_data_key(candidate_id)
            record_key, value = encode_key_record(key, self.keks)
            key_record = Encoded(
                KEYS, record_key, value, headers_for(model.source), "data_key", key.record_key
            )
        return SealedProfile(key_record, key, encoder.profile(model, key))

    def remember(self, key: DataKey) -> None:
        """Reuse ``key`` for its candidate from now on (call once Kafka acknowledged its record)."""
        with self._lock:
            self._keys[key.candidate_id] = key
            self._keys.move_to_end(key.candidate_id)
            while len(self._keys) > self._cache_size:
                self._keys.popitem(last=False)

    def forget(self, candidate_id: str) -> None:
        """Drop the candidate's cached key (erasure): a later upsert makes a new one."""
        with self._lock:
            self._keys.pop(candidate_id, None)
