"""Base class and field types shared by the pydantic models of the contract.

The models are the *edge* form of the records (SDK, HTTP gateway, tests): they validate what Avro
cannot (non-empty ids, aware datetimes, time zones, locales, URLs). Stream workers use plain dicts
from :mod:`schemas.codec` instead, which is several times faster.

Every model validates through :func:`validate_model`, which turns pydantic's errors into one
:class:`schemas.errors.ValidationError` naming the field (``payload.job_id: field required``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Self, TypeVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from schemas.datum import format_path
from schemas.errors import ConfigError, ValidationError


class AvroModel(BaseModel):
    """A record of the contract: immutable, strict about unknown fields, Avro-dict convertible."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    #: Union tags pydantic puts into error locations (hidden so paths match the Avro fields).
    hidden_location_tags: ClassVar[frozenset[str]] = frozenset()

    def to_avro(self) -> dict[str, Any]:
        """The record in Avro dict form (aware UTC datetimes), ready for ``codec.encode``."""
        return self.model_dump(mode="python")

    @classmethod
    def from_avro(cls, record: Mapping[str, Any]) -> Self:
        """Validate a record in Avro dict form (or JSON form); ValidationError names the field."""
        return validate_model(cls, record)


ModelT = TypeVar("ModelT", bound=AvroModel)


def validate_model(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """``model.model_validate(data)``, with pydantic's errors turned into our ValidationError."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        event_id = data.get("event_id") if isinstance(data, Mapping) else None
        if not isinstance(event_id, str) or not event_id.strip():
            event_id = None
        raise _to_validation_error(exc, model.hidden_location_tags, event_id) from None


def _to_validation_error(
    exc: PydanticValidationError, hidden: frozenset[str], event_id: str | None
) -> ValidationError:
    errors = exc.errors(include_url=False, include_input=False)
    fields = [format_path(p for p in e["loc"] if p not in hidden and p != "[key]") for e in errors]
    reason = _reason(errors[0])
    if errors[0]["loc"][-1:] == ("[key]",):
        reason = f"key {reason}"
    if len(errors) > 1:
        others = ", ".join(dict.fromkeys(fields[1:]))
        reason += f" (and {len(errors) - 1} more: {others})"
    return ValidationError(fields[0], reason, event_id=event_id)


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (not in the contract)"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


# --- field types ---------------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


def _no_number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give an RFC 3339 string such as 2025-03-01T09:30:00Z, not a number")
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "must be timezone-aware, e.g. 2025-03-01T09:30:00Z; naive times are ambiguous"
        )
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:01+00:01 or 9999-12-31T23:59:59-00:01: no such time in UTC.
        raise ValueError("is out of range once converted to UTC (years 1 to 9999)") from None
    if not EARLIEST_UTC <= utc <= LATEST_UTC:
        # Valid in UTC, but a candidate's local time (quiet hours, local days) would overflow.
        raise ValueError("is out of range: give a time from 0001-01-02 to 9999-12-30 (UTC)")
    return utc


#: The times every time zone can show (offsets stay within a day of UTC): the range of every
#: event time (the worker checks records that bypassed these models against the same range).
EARLIEST_UTC = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST_UTC = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("must be an absolute http(s) URL")
    return value


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _snake_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("must be a lowercase name like 'email' or 'job_alerts' (a-z, 0-9, _)")
    return value


_LOCALE = re.compile(
    r"^(?P<language>[a-z]{2,3})(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)$",
    re.IGNORECASE,
)


def _locale(value: str) -> str:
    """Shape-check a BCP 47 tag and give it its canonical case (``en-gb`` -> ``en-GB``)."""
    match = _LOCALE.match(value)
    if match is None:
        hint = " (use '-', not '_')" if "_" in value else ""
        raise ValueError(f"must be a BCP 47 language tag like 'en' or 'en-GB'{hint}")
    tag = match["language"].lower()
    if match["script"]:
        tag += "-" + match["script"].title()
    if match["region"]:
        tag += "-" + match["region"].upper()
    return tag + match["variants"].lower()


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    zones = frozenset(available_timezones())
    if not zones:
        raise ConfigError("no IANA time zone database found: install the 'tzdata' package")
    return zones


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError("must be an IANA time zone like 'Europe/Berlin' or 'UTC'")
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must look like an e-mail address (name@example.com)")
    return value


def _phone(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("must be an E.164 phone number like '+4915112345678'")
    return value


#: A string that is not empty or blank (ids, names, sources).
NonEmptyStr = Annotated[str, AfterValidator(_not_blank)]
#: An aware datetime, normalised to UTC; naive datetimes and bare numbers are rejected.
UtcDatetime = Annotated[datetime, BeforeValidator(_no_number), AfterValidator(_aware_utc)]
#: An absolute http(s) URL, kept exactly as given.
HttpUrl = Annotated[str, AfterValidator(_http_url)]
#: A lowercase snake_case name (consent channels).
SnakeName = Annotated[str, AfterValidator(_snake_name)]
#: A BCP 47 language tag, canonical case.
Locale = Annotated[str, AfterValidator(_locale)]
#: An IANA time zone name.
TimeZone = Annotated[str, AfterValidator(_time_zone)]
EmailAddress = Annotated[str, AfterValidator(_email)]
PhoneNumber = Annotated[str, AfterValidator(_phone)]
#: Avro ``int`` fields: 32-bit, never negative here.
Int32 = Annotated[int, Field(ge=0, le=2**31 - 1)]
#: Avro ``long`` fields, never negative here.
Int64 = Annotated[int, Field(ge=0, le=2**63 - 1)]
