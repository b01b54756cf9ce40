"""The project's exception hierarchy.

Every error the pipeline raises on purpose derives from :class:`NurtureError`. Errors say what a
person needs to act: the field, the topic/partition/offset, the event id. The ``retriable`` class
attribute decides retry versus dead-letter (never string matching on messages).
"""

from __future__ import annotations


class NurtureError(Exception):
    """Root of all candidate-nurture errors."""

    #: True when trying the same thing again later may succeed (broker down, timeout).
    retriable: bool = False


class ConfigError(NurtureError):
    """Raised at start-up when settings, a model file or a campaign file are invalid."""


class SchemaError(NurtureError):
    """Raised when bytes cannot be turned into a known, valid record (poison: dead-letter it)."""


class UnknownSchemaError(SchemaError):
    """Raised when a payload's schema fingerprint is not in the registry under ``schemas/``."""

    def __init__(self, fingerprint: bytes) -> None:
        self.fingerprint = fingerprint
        super().__init__(
            f"unknown Avro schema fingerprint {fingerprint.hex()}: the writer used a schema "
            "that is not in schemas/registry (upgrade this reader?)"
        )


class CorruptPayloadError(SchemaError):
    """Raised when a payload is not single-object encoded Avro or does not match its schema."""


class TombstoneError(CorruptPayloadError):
    """Raised when a record has no value at all (null: a Kafka tombstone); every record the
    pipeline reads is a single-object encoded Avro value, never a deletion."""


class RecordTooLargeError(SchemaError):
    """Raised when a record's value is larger than the reader accepts (``size`` and ``limit``
    in bytes), before anything is decoded."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"value of {size} bytes is over the reader's limit of {limit} bytes (a record of "
            "this pipeline takes a few KB)"
        )


class WrongSubjectError(SchemaError):
    """Raised by ``decode_as`` when the bytes hold another subject than expected (topic mix-up)."""

    def __init__(self, expected: str, actual: str, version: int) -> None:
        self.expected = expected
        self.actual = actual
        self.version = version
        super().__init__(f"expected a {expected} record but the bytes hold {actual} v{version}")


class ValidationError(SchemaError):
    """Raised when a record decodes but breaks the contract; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str, *, event_id: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.event_id = event_id
        where = f" (event {event_id})" if event_id else ""
        super().__init__(f"{field}: {reason}{where}")


class InvalidKeyError(ValidationError):
    """Raised when a record's Kafka key cannot be a candidate id at all: missing (null) or not
    UTF-8 text. ``field`` is ``candidate_id``, as for a text key that is another candidate's id
    (a plain :class:`ValidationError`): the key must be the record's candidate id."""

    def __init__(self, reason: str, *, event_id: str | None = None) -> None:
        super().__init__("candidate_id", reason, event_id=event_id)


class WrongPartitionError(SchemaError):
    """Raised when a record is on a partition its key does not hash to: its producer partitions
    keys otherwise than murmur2 (the Java client's and kafka-python's default), as librdkafka
    based clients (confluent-kafka, Go, .NET) do unless set to ``partitioner=murmur2_random``.
    Processing it there would split the candidate's state across two partitions."""

    def __init__(self, partition: int, expected: int, partitions: int) -> None:
        self.partition = partition
        self.expected = expected
        self.partitions = partitions
        super().__init__(
            f"the key hashes to partition {expected} of {partitions} (murmur2, as the Java client "
            f"and kafka-python partition) but the record is on partition {partition}: its "
            "producer uses another partitioner (librdkafka clients: partitioner=murmur2_random); "
            "fix the producer, then `nurture dlq redrive` re-publishes the record to its partition"
        )


class KafkaUnavailableError(NurtureError):
    """Raised when the Kafka cluster cannot be reached or did not acknowledge in time."""

    retriable = True


class KafkaAuthenticationError(KafkaUnavailableError):
    """Raised when Kafka refuses the client's credentials or TLS (trying again will not help)."""

    retriable = False


class BrokerError(NurtureError):
    """Raised by the local broker manager (`nurture broker ...`): Java missing, start failed."""


class TopicConfigConflictError(NurtureError):
    """Raised when a topic exists with settings that differ from its declaration."""
