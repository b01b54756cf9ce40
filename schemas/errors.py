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


class UnknownSchemaIdError(UnknownSchemaError):
    """Raised when a Confluent-framed payload names a schema id the registry does not know
    (``schema_id``), or one whose record is no subject of the contract (``reason`` says which).
    Remembered for a short while only (``NURTURE_SCHEMA_REGISTRY_UNKNOWN_ID_RETRY_S``): a schema
    registered later is found once that has passed."""

    def __init__(self, schema_id: int, reason: str) -> None:
        self.schema_id = schema_id
        self.reason = reason
        SchemaError.__init__(self, f"schema id {schema_id}: {reason}")


class SchemaRegistryUnavailableError(SchemaError):
    """Raised when the schema registry (``url``) did not answer within the timeout, refused the
    connection or answered with a server error, so a Confluent-framed payload with a schema id
    not yet cached cannot be decoded. The worker and delivery's action loop dead-letter such a
    record like any undecodable one (``retriable``: a redrive decodes it once the registry is
    back); delivery's views stop at it and hold sends until it decodes (docs/delivery.md). Ids
    already cached decode on during an outage. ``retry_after_s``: seconds until the resolver
    asks the registry again (None when not known)."""

    retriable = True

    def __init__(self, url: str, reason: str, *, retry_after_s: float | None = None) -> None:
        self.url = url
        self.reason = reason
        self.retry_after_s = retry_after_s
        super().__init__(f"schema registry at {url} is unavailable: {reason}")


class SchemaRegistryAuthError(SchemaRegistryUnavailableError):
    """Raised when the schema registry refuses the configured credentials or TLS (401, 403,
    certificate), or the URL is no Confluent-compatible API (a 404 without the API's own error
    code, e.g. Apicurio's base URL without ``/apis/ccompat/v7``): trying again with the same
    settings will not help."""

    retriable = False


class SchemaRegistryRefusedError(NurtureError):
    """Raised when the schema registry refuses a request about ``subject``: an incompatible
    schema (HTTP 409), an invalid one (422), or another client error. ``error_code`` is the
    registry's own code (409, 42201, 40401, ...)."""

    def __init__(self, subject: str, status: int, error_code: int | None, message: str) -> None:
        self.subject = subject
        self.status = status
        self.error_code = error_code
        self.detail = message
        super().__init__(f"schema registry refused {subject}: {message} (HTTP {status})")

    @property
    def incompatible(self) -> bool:
        """True when the registry refused the schema as incompatible with the subject's."""
        return self.status == 409


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
