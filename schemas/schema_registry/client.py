"""A thin client of the Confluent-compatible Schema Registry REST API (Confluent Schema
Registry, Apicurio's ``/apis/ccompat/v7``, Karapace, Redpanda), on httpx.

Only what the project needs: register a schema under a subject, look a schema's id up, fetch a
schema by id, get and set a subject's compatibility level, test a schema against a subject.
Every request waits at most ``timeout_s``; nothing is retried here (the callers decide: the
decoder dead-letters and remembers the failure for a while, `nurture schemas register` exits).

Why not confluent-kafka's ``SchemaRegistryClient``: it needs the ``schemaregistry`` extra
(authlib, cachetools, attrs) on top of librdkafka's binary wheel, would make a Kafka client a
runtime dependency of ``schemas/`` (the contract imports none), and its errors are its own;
these six calls are a screenful on httpx, which the project already uses, and raise the
project's errors. confluent-kafka stays what the tests use as an independent client.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from schemas.errors import (
    SchemaRegistryAuthError,
    SchemaRegistryRefusedError,
    SchemaRegistryUnavailableError,
    UnknownSchemaIdError,
)
from schemas.schema_registry.settings import SchemaRegistrySettings

#: The media type the API takes and answers (Schema Registry API v1).
MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
#: The registry's error codes for "subject not found" and "schema not found".
SUBJECT_NOT_FOUND = 40401
SCHEMA_NOT_FOUND = 40403


class SchemaRegistryClient:
    """Calls to one registry; a context manager (or :meth:`close`) for its connection pool."""

    def __init__(self, settings: SchemaRegistrySettings, *, url: str | None = None) -> None:
        base = url or settings.url
        if base is None:
            raise ValueError("no schema registry URL (NURTURE_SCHEMA_REGISTRY_URL is unset)")
        headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
        auth: httpx.Auth | None = None
        if settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
        elif settings.username is not None and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        self.url = _shown(base)
        # httpx logs every request's URL at INFO: one line per schema look-up, nothing an
        # operator needs (failures are raised as our errors, with the URL shown safely).
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self._http = httpx.Client(
            base_url=base,
            headers=headers,
            auth=auth,
            timeout=settings.timeout_s,
            verify=settings.ssl_context(),
            follow_redirects=False,
        )

    # --- the API ---------------------------------------------------------------------------

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (Avro JSON text) under ``subject``; its id. The registry returns
        the existing id for a schema the subject already has, and refuses an incompatible one
        (:class:`SchemaRegistryRefusedError` with ``incompatible`` set)."""
        answer = self._call(
            "POST", f"/subjects/{_path(subject)}/versions", subject, {"schema": schema}
        )
        assert answer is not None  # a 404 raised: missing_ok is off
        return int(answer["id"])

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of ``schema`` when ``subject`` has it (any version), else None."""
        answer = self._call(
            "POST", f"/subjects/{_path(subject)}", subject, {"schema": schema}, missing_ok=True
        )
        return None if answer is None else int(answer["id"])

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered with ``schema_id``; :class:`UnknownSchemaIdError` when the
        registry has no such id."""
        answer = self._call("GET", f"/schemas/ids/{schema_id}", f"id {schema_id}", missing_ok=True)
        if answer is None:
            raise UnknownSchemaIdError(
                schema_id, f"the schema registry at {self.url} has no such id"
            )
        if answer.get("schemaType", "AVRO") != "AVRO":
            raise UnknownSchemaIdError(schema_id, f"a {answer['schemaType']} schema, not Avro")
        return str(answer["schema"])

    def compatibility(self, subject: str) -> str | None:
        """The compatibility level set on ``subject`` itself, or None when it has none."""
        answer = self._call(
            "GET",
            f"/config/{_path(subject)}",
            subject,
            params={"defaultToGlobal": "false"},
            missing_ok=True,
        )
        if answer is None:
            return None
        level = answer.get("compatibilityLevel") or answer.get("compatibility")
        return str(level) if level else None

    def set_compatibility(self, subject: str, level: str) -> None:
        """Set ``subject``'s compatibility level (``BACKWARD_TRANSITIVE``, ``FULL``, ...)."""
        self._call("PUT", f"/config/{_path(subject)}", subject, {"compatibility": level})

    def is_compatible(self, subject: str, schema: str) -> bool:
        """Whether ``subject``'s compatibility level lets ``schema`` be registered (True when
        the subject has no version yet)."""
        answer = self._call(
            "POST",
            f"/compatibility/subjects/{_path(subject)}/versions/latest",
            subject,
            {"schema": schema},
            missing_ok=True,
        )
        return answer is None or bool(answer.get("is_compatible"))

    # --- plumbing --------------------------------------------------------------------------

    def _call(  # noqa: PLR0913 - keyword-only request details
        self,
        method: str,
        path: str,
        about: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """The JSON answer; None for a 404 when ``missing_ok``; else the project's errors."""
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TimeoutException as exc:
            raise SchemaRegistryUnavailableError(
                self.url, f"no answer within {self._http.timeout.read} s ({type(exc).__name__})"
            ) from None
        except httpx.HTTPError as exc:
            raise SchemaRegistryUnavailableError(self.url, _transport_reason(exc)) from None
        status = response.status_code
        if status == 404 and _error_code(response) is None:
            # Every "not found" of the Confluent API carries its code (40401 subject, 40403
            # schema, ...); a bare 404 is a URL that is not that API, never a missing subject.
            raise SchemaRegistryAuthError(
                self.url,
                f"HTTP 404 without the Confluent API's error code for {path}: is this the "
                "Confluent-compatible API? (for Apicurio: <base>/apis/ccompat/v7)",
            )
        if status == 404 and missing_ok:
            return None
        if status in (401, 403):
            raise SchemaRegistryAuthError(
                self.url,
                f"HTTP {status}: it refused the credentials (NURTURE_SCHEMA_REGISTRY_USERNAME/"
                "PASSWORD or BEARER_TOKEN)",
            )
        if status >= 500 or status == 429:
            raise SchemaRegistryUnavailableError(self.url, f"HTTP {status}: {_message(response)}")
        if status >= 400:
            raise SchemaRegistryRefusedError(
                about, status, _error_code(response), _message(response)
            )
        try:
            answer = response.json()
        except ValueError:  # not JSON (JSONDecodeError), or not UTF-8
            raise SchemaRegistryUnavailableError(
                self.url, f"HTTP {status} with no JSON body: is this the Confluent-compatible API?"
            ) from None
        return answer if isinstance(answer, dict) else {"value": answer}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _path(subject: str) -> str:
    """A subject as one URL path segment (a topic prefix may hold characters to escape)."""
    return quote(subject, safe="")


def _shown(url: str) -> str:
    """The URL without any user:password in it (it appears in error messages)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def _transport_reason(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    detail = str(exc) or str(cause or "") or type(exc).__name__
    return f"{type(exc).__name__}: {detail}"


def _error_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("error_code")
    except (ValueError, AttributeError):  # not JSON, or not UTF-8 (a proxy's page)
        return None
    return int(code) if isinstance(code, int) else None


def _message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):  # not JSON, or not UTF-8 (a proxy's page)
        message = None
    text = str(message) if message else response.text.strip() or response.reason_phrase
    return text[:500]
