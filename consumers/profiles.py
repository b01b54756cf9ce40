"""Contact details and consent at send time: a local view of the compacted ``candidate.profile``.

Actions carry no contact details; the delivery consumer reads them here. A second consumer in
the same process (no group, every partition assigned, read from the beginning) keeps the latest
record per candidate in memory: the profile, or :data:`ERASED` after an erasure request. It is
rebuilt from the topic at every start, so there is nothing on disk to go stale or to forget.

:meth:`ProfileState.catch_up` reads up to the end offsets taken *at the call*; the delivery loop
calls it before each batch of actions, so a consent withdrawn before the send is seen.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from kafka import KafkaConsumer, TopicPartition

from schemas.codec import default_codec
from schemas.errors import KafkaUnavailableError, SchemaError
from schemas.models import CandidateProfile, parse_profile
from schemas.settings import KafkaSettings
from schemas.topics import PROFILE

log = logging.getLogger(__name__)

ERASED: Final = "erased"

ProfileEntry = CandidateProfile | str


class ProfileState:
    """The latest profile (or :data:`ERASED`) per candidate id, fed from ``candidate.profile``."""

    def __init__(self, kafka: KafkaSettings, *, catch_up_timeout_s: float = 30.0) -> None:
        self.topic = kafka.topic(PROFILE)
        self._timeout_s = catch_up_timeout_s
        self._entries: dict[str, ProfileEntry] = {}
        self._consumer = KafkaConsumer(
            **kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
        )
        partition_ids = self._consumer.partitions_for_topic(self.topic) or set()
        if not partition_ids:
            self._consumer.close()
            raise KafkaUnavailableError(f"topic {self.topic} has no partitions (not created?)")
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(partition_ids)]
        self._consumer.assign(self._partitions)
        self._consumer.seek_to_beginning(*self._partitions)

    def get(self, candidate_id: str) -> ProfileEntry | None:
        """The candidate's profile, :data:`ERASED`, or None when no record was seen."""
        return self._entries.get(candidate_id)

    def catch_up(self) -> None:
        """Apply every profile record written before this call."""
        end = self._consumer.end_offsets(self._partitions)
        deadline = time.monotonic() + self._timeout_s
        while any(self._consumer.position(tp) < end[tp] for tp in self._partitions):
            if time.monotonic() > deadline:
                raise KafkaUnavailableError(f"could not read {self.topic} to its end in time")
            for records in self._consumer.poll(timeout_ms=200).values():
                for record in records:
                    self._apply(record.key, record.value, record.partition, record.offset)

    def close(self) -> None:
        self._consumer.close()

    def _apply(self, key: bytes | None, value: bytes | None, partition: int, offset: int) -> None:
        if value is None:  # tombstone: the candidate is gone entirely
            if key is not None:
                self._entries.pop(key.decode(), None)
            return
        try:
            decoded = default_codec().decode(value)
            if decoded.subject == "erasure_request":
                self._entries[str(decoded.record["candidate_id"])] = ERASED
            elif decoded.subject == "candidate_profile":
                profile = parse_profile(decoded.record)
                self._entries[profile.candidate_id] = profile
        except SchemaError as exc:
            # The stream worker dead-letters bad profile records; here we only skip them.
            log.warning(
                "%s[%d] offset=%d: skipped profile record: %s", self.topic, partition, offset, exc
            )
