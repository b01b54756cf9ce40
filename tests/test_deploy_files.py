"""deploy/ files stay in step with the code (Docker cannot run here, so check them statically)."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.broker import jars

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_uses_the_pinned_kafka_version_and_single_node_kraft() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{jars.kafka_version()}"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://127.0.0.1:9092"
    assert "127.0.0.1:9092:9092" in kafka["ports"]


def test_pom_pins_a_kafka_4_broker() -> None:
    version = jars.kafka_version()
    assert version.split(".")[0] == "4"
    pom = jars.pom_path().read_text()
    assert "<artifactId>kafka_2.13</artifactId>" in pom
    assert "<artifactId>log4j-slf4j2-impl</artifactId>" in pom
