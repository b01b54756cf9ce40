"""Gateway start-up: bad Kafka settings stop it at once; the connector survives the unexpected."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from deploy.cli.main import app
from producers.gateway import kafka_config, publisher
from producers.gateway.app import create_app
from producers.settings import ProducerSettings
from schemas.errors import ConfigError
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from tests.test_gateway_support import auth, event, gateway_settings, running_gateway


def tls_without_ca(tmp_path: Path) -> KafkaSettings:
    return KafkaSettings(security_protocol="SSL", ssl_cafile=tmp_path / "missing-ca.pem")


@pytest.mark.parametrize("producer", ["aiokafka", "kafka-python"])
def test_missing_ca_file_is_a_config_error_when_the_app_is_made(
    tmp_path: Path, producer: str
) -> None:
    with pytest.raises(ConfigError, match="invalid Kafka TLS settings"):
        create_app(
            gateway_settings(producer=producer), tls_without_ca(tmp_path), CollectorRegistry()
        )


def test_nurture_gateway_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never_serve(*_: Any, **__: Any) -> None:
        raise AssertionError("the gateway started serving despite a missing CA file")

    monkeypatch.setattr("uvicorn.Server.run", never_serve)
    monkeypatch.setenv("NURTURE_GATEWAY_API_KEYS", "career-site=career-site-key-0123456789")
    monkeypatch.setenv("NURTURE_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("NURTURE_SSL_CAFILE", str(tmp_path / "missing-ca.pem"))
    result = CliRunner().invoke(app, ["gateway"])
    assert result.exit_code == 2, result.output  # a configuration error
    [line] = result.output.strip().splitlines()
    assert "invalid Kafka TLS settings" in line


def test_compression_aiokafka_cannot_write_is_refused_or_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(clients.AIOKAFKA_CODECS, "lz4", lambda: False)
    with pytest.raises(ConfigError, match="lz4"):
        kafka_config.aiokafka_producer_config(
            KafkaSettings(), ProducerSettings(compression="lz4"), None
        )
    chosen = kafka_config.aiokafka_producer_config(
        KafkaSettings(), ProducerSettings(compression="auto"), None
    )
    assert chosen["compression_type"] != "lz4"


@pytest.mark.kafka
@pytest.mark.parametrize("producer", ["aiokafka", "kafka-python"])
def test_connector_logs_an_unexpected_error_and_keeps_trying(
    kafka: KafkaSettings,
    producer: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    module: Any = clients if producer == "aiokafka" else publisher
    name = "aio_producer" if producer == "aiokafka" else "NurtureProducer"
    real = getattr(module, name)
    calls = [0]

    def first_attempt_breaks(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("a bug in the client")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, first_attempt_breaks)
    caplog.set_level(logging.ERROR, logger="producers.gateway")
    with running_gateway(kafka, producer=producer, retry_after_s=1) as client:
        response = client.post("/v1/events", json=event(), headers=auth())
    assert response.status_code == 202, response.text
    assert calls[0] >= 2
    [logged] = [r for r in caplog.records if "unexpected error connecting" in r.getMessage()]
    assert logged.exc_info is not None
