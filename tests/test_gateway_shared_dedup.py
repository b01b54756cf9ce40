"""Idempotent retries across gateway processes and restarts (producers/gateway/shared_ids.py).

Two (and three) gateway apps on the same topics against the real broker: an event accepted by
one is a duplicate at the other, after a restart too, and is on Kafka once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from producers.gateway.app import create_app
from producers.gateway.dedup import AcceptedIds
from producers.gateway.shared_ids import decode_accepted, encode_accepted
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, GATEWAY_ACCEPTED
from tests.kafka_helpers import wait_until
from tests.test_gateway_support import (
    auth,
    decoded,
    event,
    gateway_settings,
    records_on,
    serving,
)

pytestmark = pytest.mark.kafka


@contextmanager
def gateway(kafka: KafkaSettings, **overrides: Any) -> Iterator[tuple[httpx.Client, FastAPI]]:
    """A live gateway process stand-in (own app, producer and reader), once it is ready."""
    app = create_app(gateway_settings(**overrides), kafka, CollectorRegistry())
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, what="a ready gateway")
        yield client, app


def knows(app: FastAPI, event_id: str) -> bool:
    dedup: AcceptedIds = app.state.gateway.events.dedup
    return dedup.is_accepted(event_id)


def statuses(response: httpx.Response) -> list[str]:
    return [result["status"] for result in response.json()["results"]]


def test_an_id_accepted_by_one_gateway_is_a_duplicate_at_another(kafka: KafkaSettings) -> None:
    batch = [event(), event(), event()]
    with gateway(kafka) as (first, _), gateway(kafka) as (second, second_app):
        accepted = first.post("/v1/events", json={"events": batch}, headers=auth())
        assert statuses(accepted) == ["accepted"] * 3
        wait_until(
            lambda: all(knows(second_app, e["event_id"]) for e in batch),
            what="the second gateway to learn the ids the first accepted",
        )
        retry = second.post("/v1/events", json={"events": [*batch, event()]}, headers=auth())
    assert retry.status_code == 202
    assert statuses(retry) == ["duplicate", "duplicate", "duplicate", "accepted"]
    assert len(decoded(kafka, ACTIVITY)) == 4


def test_a_restarted_gateway_remembers_what_was_accepted_before(kafka: KafkaSettings) -> None:
    sent = event()
    with gateway(kafka) as (first, _):
        assert statuses(first.post("/v1/events", json=sent, headers=auth())) == ["accepted"]
    with gateway(kafka) as (restarted, _):  # ready only once the window's ids are read
        retry = restarted.post("/v1/events", json=sent, headers=auth())
    assert statuses(retry) == ["duplicate"]
    assert [d.record["event_id"] for d in decoded(kafka, ACTIVITY)] == [sent["event_id"]]


def test_sharing_can_be_turned_off(kafka: KafkaSettings) -> None:
    sent = event()
    with gateway(kafka, dedup_shared=False) as (first, first_app):
        assert statuses(first.post("/v1/events", json=sent, headers=auth())) == ["accepted"]
        assert first_app.state.gateway.shared_ids is None
    assert decoded(kafka, ACTIVITY)
    assert records_on(kafka, GATEWAY_ACCEPTED) == []


def test_without_the_topic_the_gateway_stays_available_per_process(kafka: KafkaSettings) -> None:
    accepted_topic = kafka.topic(GATEWAY_ACCEPTED)
    with topic_admin.admin_client(kafka) as admin:
        admin.delete_topics([accepted_topic])
    wait_until(lambda: accepted_topic not in topic_admin.list_topics(kafka), what="the topic to go")
    sent = event()
    with gateway(kafka) as (client, app):  # ready: nothing to load
        first = client.post("/v1/events", json=sent, headers=auth())
        retry = client.post("/v1/events", json=sent, headers=auth())
        assert not app.state.gateway.shared_ids.sharing
    assert (statuses(first), statuses(retry)) == (["accepted"], ["duplicate"])
    assert accepted_topic not in topic_admin.list_topics(kafka)


# --- pure parts ------------------------------------------------------------------------------


def test_records_round_trip_and_unreadable_ones_are_skipped() -> None:
    value = encode_accepted("gw-1", 1_767_225_600_000, ["e-1", "e-2"])
    assert decode_accepted(value) == ("gw-1", 1_767_225_600_000, ["e-1", "e-2"])
    for bad in (None, b"", b"not json", b"[]", b'{"v": 2, "gateway": "g", "ids": []}'):
        assert decode_accepted(bad) is None


def test_learned_ids_count_only_for_what_is_left_of_their_window() -> None:
    now = [1000.0]
    dedup = AcceptedIds(window_s=60, max_ids=10, clock=lambda: now[0])
    dedup.learn("recent", age_s=50)
    dedup.learn("too-old", age_s=61)
    assert dedup.is_accepted("recent")
    assert not dedup.is_accepted("too-old")
    now[0] += 11  # 61 s after "recent" was accepted elsewhere
    assert not dedup.is_accepted("recent")
