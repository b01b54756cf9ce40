"""Contact details and consent at send time: a local view of the compacted ``candidate.profile``.

Actions carry no contact details; the delivery consumer reads them here: the latest record per
candidate in memory, the profile or :data:`ERASED` after an erasure request. It is rebuilt from
the topic at every start (:class:`~consumers.mirror.TopicMirror`), so there is no local copy
of PII to go stale. The loop catches up before each batch of actions, so a consent withdrawn
before the batch is seen.
"""

from __future__ import annotations

import logging
from typing import Final

from kafka.consumer.fetcher import ConsumerRecord

from consumers.mirror import TopicMirror
from schemas.codec import default_codec
from schemas.errors import SchemaError
from schemas.models import CandidateProfile, parse_profile
from schemas.settings import KafkaSettings
from schemas.topics import PROFILE

log = logging.getLogger(__name__)

ERASED: Final = "erased"

ProfileEntry = CandidateProfile | str


class ProfileState(TopicMirror):
    """The latest profile (or :data:`ERASED`) per candidate id, fed from ``candidate.profile``."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._entries: dict[str, ProfileEntry] = {}
        super().__init__(kafka, PROFILE)

    def get(self, candidate_id: str) -> ProfileEntry | None:
        """The candidate's profile, :data:`ERASED`, or None when no record was seen."""
        return self._entries.get(candidate_id)

    def apply(self, record: ConsumerRecord) -> None:
        if record.value is None:  # tombstone: the candidate is gone entirely
            if record.key is not None:
                self._entries.pop(record.key.decode(), None)
            return
        try:
            decoded = default_codec().decode(record.value)
            if decoded.subject == "erasure_request":
                self._entries[str(decoded.record["candidate_id"])] = ERASED
            elif decoded.subject == "candidate_profile":
                profile = parse_profile(decoded.record)
                self._entries[profile.candidate_id] = profile
        except SchemaError as exc:
            # The stream worker dead-letters bad profile records; here we only skip them.
            log.warning(
                "%s[%d] offset=%d: skipped profile record: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
