"""The Schema Registry client over HTTP, without a registry: one that does not answer (a closed
port, a listener that never replies), `nurture schemas register` without one, credentials sent
and refused, server errors, and a URL that is not the Confluent-compatible API (a stand-in
HTTP server answering what it is told).

tests/test_schema_registry_mode.py runs the client against a real registry.
"""

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.cli.main import app
from schemas import wire
from schemas.codec import codec_for
from schemas.errors import (
    SchemaError,
    SchemaRegistryAuthError,
    SchemaRegistryUnavailableError,
    UnknownSchemaIdError,
)
from schemas.schema_registry import framing
from schemas.schema_registry.client import SchemaRegistryClient
from schemas.schema_registry.codec import (
    confluent_codec,
)
from schemas.schema_registry.settings import SchemaRegistrySettings
from streams.worker.dlq import HEADER_ERROR_CLASS, HEADER_ERROR_MESSAGE, dead_letter
from tests.test_schema_registry_units import RECORDS


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.mark.parametrize("where", ["closed", "silent"])
def test_a_registry_that_does_not_answer_is_a_clear_error_within_the_timeout(
    where: str, silent_port: int
) -> None:
    if where == "closed":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # closed again when the block ends
    else:
        port = silent_port
    settings = SchemaRegistrySettings(url=f"http://127.0.0.1:{port}", timeout_s=0.5)
    codec = confluent_codec(settings)
    body = codec_for("engagement_record").encode(RECORDS["engagement_record"])[wire.HEADER_SIZE :]
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match=f"127.0.0.1:{port}") as raised:
        codec.decode(framing.header(1) + body)
    assert time.monotonic() - started < 3  # the timeout (0.5 s per phase), not a stall
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match="not asked again"):
        codec.decode(framing.header(2) + body)
    assert time.monotonic() - started < 0.1
    # the worker's dead-letter path takes it as any undecodable record, with the reason
    assert isinstance(raised.value, SchemaError) and raised.value.retriable
    letter = dead_letter(
        key=b"c-1",
        value=framing.header(1) + body,
        headers=None,
        topic="candidate.engagement",
        partition=0,
        offset=7,
        error=raised.value,
    )
    headers = dict(letter.headers)
    assert headers[HEADER_ERROR_CLASS] == b"SchemaRegistryUnavailableError"
    assert b"is unavailable" in headers[HEADER_ERROR_MESSAGE]


def test_register_without_a_registry_url_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NURTURE_SCHEMA_REGISTRY_URL", raising=False)
    result = CliRunner().invoke(app, ["schemas", "register"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "no schema registry: set NURTURE_SCHEMA_REGISTRY_URL or --url" in result.output
    assert "Traceback" not in result.output


def test_register_against_a_closed_port_is_one_line_and_exit_1() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = CliRunner().invoke(app, ["schemas", "register", "--url", url], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert f"schema registry at {url} is unavailable" in " ".join(result.output.split())


class _Answering(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status the server was given; keeps the Authorization."""

    def do_GET(self) -> None:
        server: Any = self.server
        server.seen.append(self.headers.get("Authorization"))
        code = server.status * 100 + 3 if server.status == 404 else server.status  # 40403
        answer = {"error_code": code, "message": "nope"} if server.confluent else {"detail": "?"}
        body = server.raw or json.dumps(answer).encode()
        self.send_response(server.status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[Any]:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
    server.seen, server.status, server.confluent, server.raw = [], 401, True, None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("auth", "header"),
    [
        ({"username": "ci", "password": "s3cret"}, "Basic Y2k6czNjcmV0"),
        ({"bearer_token": "tok-123"}, "Bearer tok-123"),
    ],
)
def test_credentials_are_sent_and_a_refusal_is_an_auth_error(
    answering: Any, auth: dict[str, str], header: str
) -> None:
    url = f"http://127.0.0.1:{answering.server_address[1]}"
    settings = SchemaRegistrySettings(url=url, **auth)  # type: ignore[arg-type]
    with SchemaRegistryClient(settings) as client, pytest.raises(SchemaRegistryAuthError) as raised:
        client.schema_by_id(1)
    assert answering.seen == [header]
    assert not raised.value.retriable and "refused the credentials" in str(raised.value)
    assert "s3cret" not in str(raised.value) and "tok-123" not in str(raised.value)


def test_a_server_error_is_unavailable_and_a_missing_id_unknown(answering: Any) -> None:
    url = f"http://127.0.0.1:{answering.server_address[1]}"
    with SchemaRegistryClient(SchemaRegistrySettings(url=url)) as client:
        answering.status = 503
        with pytest.raises(SchemaRegistryUnavailableError, match="HTTP 503: nope"):
            client.schema_by_id(1)
        answering.status = 404
        with pytest.raises(UnknownSchemaIdError, match=r"schema id 1: .* has no such id"):
            client.schema_by_id(1)


def test_a_404_without_the_apis_error_code_is_a_wrong_url_not_a_missing_id(
    answering: Any,
) -> None:
    """Apicurio's base URL without /apis/ccompat/v7 answers every path 404 with no Confluent
    error code (a RESTEasy ``{"detail": ..., "status": 404}``): that is the URL's fault, not an
    unknown id to dead-letter and forget. Not run against the real Apicurio: it leaves about 1 in
    800 requests to paths it does not route unanswered (docs/integrations.md), a flaky test."""
    answering.status, answering.confluent = 404, False
    url = f"http://127.0.0.1:{answering.server_address[1]}"
    settings = SchemaRegistrySettings(url=url)
    wrong_url = pytest.raises(SchemaRegistryAuthError, match="Confluent-compatible API")
    with SchemaRegistryClient(settings) as client, wrong_url as raised:
        client.schema_by_id(1)
    assert not raised.value.retriable
    answering.raw = b"<html>\x80 not UTF-8</html>"  # a proxy's page: no UnicodeDecodeError
    with SchemaRegistryClient(settings) as client, pytest.raises(SchemaRegistryAuthError):
        client.schema_by_id(1)
    answering.status = 502
    with SchemaRegistryClient(settings) as client, pytest.raises(SchemaRegistryUnavailableError):
        client.schema_by_id(1)
