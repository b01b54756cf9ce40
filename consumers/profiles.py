"""Contact details and consent at send time: a local view of the compacted ``candidate.profile``.

Actions carry no contact details; the delivery consumer reads them here: the latest record per
candidate in memory, the profile or :data:`ERASED` after an erasure request. It is rebuilt from
the topic at every start (:class:`~consumers.mirror.TopicMirror`), so there is no local copy
of PII to go stale. The loop catches up before each batch of actions, so a consent withdrawn
before the batch is seen.

Contacts arrive sealed with the candidate's data key (docs/privacy.md). They are opened only
when asked for (:meth:`ProfileState.get`), with the keys of a :class:`~consumers.keyring.KeyRing`
caught up after the profiles (a key is always written before the profiles it seals). A contact
whose key is gone was crypto-shredded: the candidate reads as :data:`ERASED`.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from consumers.codecs import DeliveryCodecs, single_object_codecs
from consumers.keyring import KeyRing
from consumers.mirror import TopicMirror
from schemas.errors import SchemaError, SchemaRegistryUnavailableError
from schemas.kafka_seam.proto import Record
from schemas.models import CandidateProfile, parse_profile
from schemas.privacy.contact import is_sealed, open_profile
from schemas.privacy.errors import UnreadableError
from schemas.privacy.kek import KeyEncryptionKeys
from schemas.privacy.settings import load_privacy_settings
from schemas.settings import KafkaSettings
from schemas.topics import PROFILE

log = logging.getLogger(__name__)

ERASED: Final = "erased"

ProfileEntry = CandidateProfile | str


class ProfileState(TopicMirror):
    """The latest profile (or :data:`ERASED`) per candidate id, fed from ``candidate.profile``.

    ``keks`` unwrap the data keys (default: :class:`~schemas.privacy.settings.PrivacySettings`);
    ``codecs`` read the records (default: single-object only; in Schema Registry mode both
    framings). A record that does not decode (corrupt, invalid, an unknown schema id) is
    skipped with a warning: the candidate keeps the entry of their previous record. One whose
    schema id waits for a registry that does not answer is not skipped: the view stops there
    (:class:`~consumers.mirror.ViewStalledError`) and reads it again at the next catch-up.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        keks: KeyEncryptionKeys | None = None,
        *,
        codecs: DeliveryCodecs | None = None,
    ) -> None:
        #: A validated unsealed profile, a decoded sealed one (opened on demand), or ERASED.
        self._entries: dict[str, CandidateProfile | dict[str, Any] | str] = {}
        self._decode = (codecs or single_object_codecs()).decode_profile
        self.keys = KeyRing(kafka, keks or load_privacy_settings().key_encryption_keys())
        try:
            super().__init__(kafka, PROFILE)
        except BaseException:
            self.keys.close()
            raise

    def get(self, candidate_id: str) -> ProfileEntry | None:
        """The candidate's profile, :data:`ERASED` (also when shredded), or None when unseen."""
        entry = self._entries.get(candidate_id)
        if entry is None or isinstance(entry, CandidateProfile | str):
            return entry
        try:
            return parse_profile(open_profile(entry, self.keys.key))
        except UnreadableError as exc:
            if exc.reason != "key_missing":
                log.error("profile of a candidate not readable: %s", exc)
            return ERASED
        except SchemaError as exc:
            log.warning("skipped an invalid sealed profile: %s", exc)
            return None

    def catch_up(self) -> None:
        """Profiles first, then keys: every key a seen profile names is then in the key view."""
        super().catch_up()
        self.keys.catch_up()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.keys.close()

    def apply(self, record: Record) -> None:
        if record.value is None:  # tombstone: the candidate is gone entirely
            if record.key is not None:
                self._entries.pop(record.key.decode(), None)
            return
        try:
            decoded = self._decode(record.value)
            if decoded.subject == "erasure_request":
                self._entries[str(decoded.record["candidate_id"])] = ERASED
            elif decoded.subject == "candidate_profile":
                if is_sealed(decoded.record):
                    self._entries[str(decoded.record["candidate_id"])] = decoded.record
                else:  # written before candidate_profile v2: contact in the clear
                    profile = parse_profile(decoded.record)
                    self._entries[profile.candidate_id] = profile
        except SchemaRegistryUnavailableError:
            raise  # not now, but maybe a consent change: the view waits (mirror.py)
        except SchemaError as exc:
            # The stream worker dead-letters bad profile records; here we only skip them.
            log.warning(
                "%s[%d] offset=%d: skipped profile record: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
