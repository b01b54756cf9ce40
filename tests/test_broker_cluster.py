"""`nurture broker start --nodes 3`: a real three-broker KRaft cluster on this host.

The rendered node configuration is checked as data; the cluster itself is started for real
(three JVMs on free ports beside the session's broker): the declared topics get three copies
and min.insync.replicas 2, `topics describe` flags under-replicated partitions while a node is
down, and an SDK publish that loses the broker leading the most partitions mid-stream finds
every acknowledged event exactly once. Then the reduced broker-fault runs of `nurture chaos`
(the whole pipeline: SDK publisher, two workers, e-mail delivery): the busiest leader killed
mid-run, and a rolling restart of every broker, each compared with a fault-free run.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.broker import config
from deploy.broker.cluster import META_FILE, LocalCluster
from deploy.broker.settings import (
    CLUSTER_CONTROLLER_OFFSET,
    CLUSTER_PORT,
    BrokerSettings,
    default_cluster_data_dir,
)
from deploy.chaos.broker_faults import busiest_leader, in_sync
from deploy.cli.main import app as cli
from producers.producer import NurtureProducer
from producers.settings import ProducerSettings
from schemas.codec import activity_codec
from schemas.errors import BrokerError, NurtureError
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, TOPICS
from streams.scoring.config import load_model
from streams.worker.changelog_topic import ensure_changelog
from tests.kafka_helpers import read_all, unique, wait_until
from tests.test_gateway_support import auth, running_gateway
from tests.worker_support import WorkerHarness, answering, differences, published, reference

NODES = 3


# -- the configuration, as data ------------------------------------------------------------------


def test_nodes_get_their_own_ports_and_one_quorum_of_voters(tmp_path: Path) -> None:
    settings = BrokerSettings(port=29092, nodes=NODES, cluster_data_dir=tmp_path)
    second = config.node_properties(settings, 2, NODES, tmp_path / "data")
    assert config.node_ports(settings, 1) == (29092, 29192)
    assert config.node_ports(settings, 3) == (29094, 29194)
    assert second["node.id"] == "2"
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:29093,CONTROLLER://127.0.0.1:29193"
    assert second["controller.quorum.voters"] == (
        "1@127.0.0.1:29192,2@127.0.0.1:29193,3@127.0.0.1:29194"
    )
    assert second["offsets.topic.replication.factor"] == "3"
    assert second["min.insync.replicas"] == "2"
    assert second["transaction.state.log.min.isr"] == "2"


def test_replication_follows_the_cluster_size() -> None:
    assert config.cluster_replication(1) == (1, 1)
    assert config.cluster_replication(2) == (2, 1)
    assert config.cluster_replication(3) == (3, 2)
    assert config.cluster_replication(5) == (3, 2)
    kafka = KafkaSettings()
    assert [kafka.replication_for(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    assert KafkaSettings(topic_replication=2).replication_for(5) == 2


def test_a_cluster_gets_its_own_data_dir_and_refuses_secure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The single broker's data dir (CI sets it) is not the cluster's.
    monkeypatch.setenv("NURTURE_BROKER_DATA_DIR", str(tmp_path / "single"))
    monkeypatch.delenv("NURTURE_BROKER_CLUSTER_DATA_DIR", raising=False)
    assert BrokerSettings(nodes=3).data_dir == default_cluster_data_dir()
    assert BrokerSettings().data_dir == tmp_path / "single"
    assert BrokerSettings(nodes=3).port == CLUSTER_PORT != BrokerSettings().port
    with pytest.raises(ValueError, match="would pass 65535"):
        BrokerSettings(nodes=3, port=65_500)
    assert BrokerSettings(nodes=3).heap == "512m"
    with pytest.raises(ValueError, match="secure cluster"):
        BrokerSettings(nodes=3, secure=True)


def test_commands_on_a_node_the_cluster_lacks_fail_clearly(tmp_path: Path) -> None:
    cluster = LocalCluster(BrokerSettings(nodes=NODES, cluster_data_dir=tmp_path))
    with pytest.raises(BrokerError, match="no cluster"):
        cluster.node(1)
    with pytest.raises(BrokerError, match=r"nodes 1\.\.3, not 4"):
        cluster.node(4)


def test_a_cluster_refuses_another_port_than_it_was_made_with(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text(
        json.dumps({"cluster_id": "x", "nodes": NODES, "host": "127.0.0.1", "port": 29092})
    )
    moved = LocalCluster(BrokerSettings(nodes=NODES, port=29500, cluster_data_dir=tmp_path))
    with pytest.raises(BrokerError, match="from port 29092; start it without --port"):
        moved.start()
    # Without --port, the ports the cluster was made with are used.
    unset = LocalCluster(BrokerSettings(nodes=NODES, cluster_data_dir=tmp_path))
    assert unset.bootstrap_servers.startswith("127.0.0.1:29092,")


# -- the real cluster ----------------------------------------------------------------------------


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_base() -> int:
    """A listener base whose three listener and three controller ports are all free."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000)  # below the ephemeral ports (32768-)
        ports = [base + i for i in range(NODES)]
        ports += [base + CLUSTER_CONTROLLER_OFFSET + i for i in range(NODES)]
        if all(_free(port) for port in ports):
            return base
    raise AssertionError("no free port range for the cluster")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    made = LocalCluster(BrokerSettings(nodes=NODES, port=_free_base(), cluster_data_dir=data_dir))
    try:
        statuses, started = made.start()
        assert started and [s.node_id for s in statuses] == [1, 2, 3]
        yield made
    finally:
        made.stop()


@pytest.fixture
def kafka(cluster: LocalCluster) -> KafkaSettings:
    settings = cluster.client_settings().model_copy(
        update={"topic_prefix": unique("cluster") + "."}
    )
    report = topic_admin.create_all(settings)
    assert report.ok, report.conflicts
    return settings


def _in_sync(kafka: KafkaSettings) -> bool:
    states = topic_admin.describe(kafka, [kafka.topic(spec.name) for spec in TOPICS])
    return all(not s.under_replicated and not s.offline for s in states.values())


pytestmark = pytest.mark.kafka


def test_status_lists_every_node_and_the_bootstrap_list(cluster: LocalCluster) -> None:
    result = CliRunner().invoke(
        cli, ["broker", "status", "--data-dir", str(cluster.settings.data_dir)]
    )
    assert result.exit_code == 0, result.output
    for node in (1, 2, 3):
        assert f"node {node}: running" in result.output
    assert f"bootstrap servers: {cluster.bootstrap_servers}" in result.output
    assert cluster.brokers_up() == NODES


def _ensure_at_once(kafka: KafkaSettings, name: str) -> tuple[list[bool], list[BaseException]]:
    """Two threads ensure the changelog ``name`` at the same moment: what each returned, and
    what each raised."""
    start = threading.Barrier(2)
    created: list[bool] = []
    failures: list[BaseException] = []

    def ensure() -> None:
        start.wait()
        try:
            created.append(ensure_changelog(kafka, name, 6))
        except BaseException as exc:  # reported by the caller's assertion
            failures.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created, failures


def test_workers_starting_together_both_find_the_changelog(kafka: KafkaSettings) -> None:
    """Two workers of a fresh deployment ensure the table changelog at once: one creates it,
    the other finds it, on whichever broker each request lands. Once the second asked a broker
    that did not list the new topic yet and exited with a KeyError (seen under `nurture chaos`
    on this cluster); the check is timing-dependent, so it runs a few rounds."""
    for round_no in range(4):
        name = kafka.topic(f"race-changelog-{round_no}")
        created, failures = _ensure_at_once(kafka, name)
        assert failures == [] and sorted(created) == [False, True]
        state = topic_admin.describe_visible(kafka, [name])[name]
        assert (state.partitions, state.replication) == (6, 3)


def test_declared_topics_get_three_copies_and_min_insync_two(kafka: KafkaSettings) -> None:
    states = topic_admin.describe(kafka, [kafka.topic(spec.name) for spec in TOPICS])
    assert len(states) == len(TOPICS)
    for state in states.values():
        assert state.replication == 3, state
        assert state.min_insync == "2", state
        assert state.min_isr_size == 3, state
    # Creating again finds them equal to the declaration (three brokers: three copies).
    assert topic_admin.create_all(kafka).ok


def _leaders(kafka: KafkaSettings, topic: str) -> Counter[int]:
    with topic_admin.admin_client(kafka) as admin:
        partitions = admin.describe_topics([topic])[0]["partitions"]
    return Counter(p["leader_id"] for p in partitions)


def test_sdk_publish_loses_nothing_when_the_busiest_leader_is_killed(
    cluster: LocalCluster, kafka: KafkaSettings
) -> None:
    """Fault (a) of the cluster work: every event whose delivery resolved is in
    candidate.activity exactly once, and the topic is fully replicated again after the
    restart."""
    topic = kafka.topic(ACTIVITY)
    victim = _leaders(kafka, topic).most_common(1)[0][0]
    third = 1000
    acked: list[str] = []
    failed: list[str] = []
    in_flight, killed = threading.Event(), threading.Event()

    def publish() -> None:
        settings = ProducerSettings(delivery_timeout_s=60)
        with NurtureProducer(kafka, settings) as producer:
            pending = [producer.send(_event(n)) for n in range(third)]
            producer.flush(30)  # a third acknowledged before the fault
            pending += [producer.send(_event(n)) for n in range(third, 2 * third)]
            in_flight.set()  # a third sent, not all acknowledged: the broker dies now
            assert killed.wait(60)
            pending += [producer.send(_event(n)) for n in range(2 * third, 3 * third)]
            for delivery in pending:
                try:
                    delivery.get(60)
                    acked.append(str(delivery.event_id))
                except NurtureError:  # counted as not acknowledged: the caller would resend
                    failed.append(str(delivery.event_id))

    publisher = threading.Thread(target=publish)
    publisher.start()
    assert in_flight.wait(60), "the first third was never acknowledged"
    try:
        assert cluster.kill(victim)
        killed.set()
        _sdk_publish_checked(publisher, kafka, topic, acked, failed, 3 * third)
    finally:
        cluster.restart(victim)  # also when the checks failed: the next tests need 3 brokers
    wait_until(lambda: _in_sync(kafka), timeout_s=90, what="every partition back in sync")


def _sdk_publish_checked(
    publisher: threading.Thread,
    kafka: KafkaSettings,
    topic: str,
    acked: list[str],
    failed: list[str],
    total: int,
) -> None:
    publisher.join(180)
    assert not publisher.is_alive()
    states = topic_admin.describe(kafka, [topic])
    assert states[topic].under_replicated, "a node is down: every partition lacks a copy"
    found = Counter(activity_codec().decode(r.value)["event_id"] for r in read_all(kafka, topic))
    assert not failed, f"{len(failed)} deliveries failed with two of three copies up"
    assert len(acked) == total
    assert set(acked) <= set(found), "an acknowledged event is missing"
    assert [eid for eid, count in found.items() if count > 1] == []


def _event(n: int) -> dict[str, Any]:
    return {
        "event_id": f"cluster-{n}",
        "type": "page_viewed",
        "candidate_id": f"cand-{n % 97}",
        "source": "career-site",
        "occurred_at": "2025-03-01T09:30:00Z",
        "payload": {"url": "https://careers.example.com/jobs/42", "page_type": "job"},
    }


def _settled(kafka: KafkaSettings) -> bool:
    """Every partition of the cluster (offsets and changelogs included) in sync and led by its
    preferred replica: no leader election is still to come after a broker's restart. The
    gateway test once started while one was pending and its readiness wait ran out."""
    if in_sync(kafka) is not True:
        return False
    with topic_admin.admin_client(kafka, timeout_s=5.0) as admin:
        topics = admin.describe_topics()
    return all(p["leader_id"] == p["replica_nodes"][0] for t in topics for p in t["partitions"])


def test_gateway_ingest_loses_nothing_when_the_busiest_leader_is_killed(
    cluster: LocalCluster, kafka: KafkaSettings, tmp_path: Path
) -> None:
    """Fault (b): every event the gateway answered 202 for is in candidate.activity exactly
    once, and a worker on the cluster scores each once (its engagement records equal the
    reference computed from the topic); an event the gateway could not get acknowledged is
    answered 503, and the client's retry comes back accepted. Prints the figures."""
    wait_until(lambda: _settled(kafka), timeout_s=180, what="the cluster settled")
    topic = kafka.topic(ACTIVITY)
    victim = busiest_leader(kafka, topic)
    accepted: list[str] = []
    statuses: Counter[int] = Counter()
    accepted_at: list[float] = []

    def post(client: Any, n: int) -> None:
        """Post event ``n`` as a well-behaved client does: a 503 is sent again after its
        Retry-After, until two minutes passed (a broker's death is noticed by the controller
        after its session timeout, 9 s; until then the gateway may answer 503 at once)."""
        event = _event(n)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            response = client.post("/v1/events", json=event, headers=auth())
            statuses[response.status_code] += 1
            if response.status_code == 202:
                accepted.append(event["event_id"])
                accepted_at.append(time.monotonic())
                return
            assert response.status_code == 503, response.text
            time.sleep(float(response.headers["Retry-After"]))
        raise AssertionError(f"event {n} never accepted in 120 s ({dict(statuses)})")

    try:
        with running_gateway(kafka) as client:
            for n in range(400):
                post(client, n)
            assert cluster.kill(victim)
            for n in range(400, 1200):
                post(client, n)
    finally:
        cluster.restart(victim)  # also when a check failed: the next tests need 3 brokers
    found = Counter(activity_codec().decode(r.value)["event_id"] for r in read_all(kafka, topic))
    duplicates = [eid for eid, count in found.items() if count > 1]
    longest_gap = max(b - a for a, b in itertools.pairwise(accepted_at))
    print(
        f"gateway ingest, broker {victim} killed after 400 of 1200: acked {len(accepted)}, "
        f"found {len(found)}, duplicates {len(duplicates)}, 503 answers {statuses[503]}, "
        f"longest time without an accept {longest_gap:.1f}s"
    )
    assert len(accepted) == 1200 and set(accepted) == set(found)
    assert duplicates == []
    assert set(statuses) <= {202, 503}
    wait_until(lambda: _settled(kafka), timeout_s=180, what="the cluster settled again")
    harness = WorkerHarness(kafka, tmp_path, unique("gw-score"))
    try:
        harness.wait_caught_up(alive=answering(harness.worker().start(), harness, 90))
        assert differences(reference(load_model(), kafka), published(kafka)) == []
    finally:
        harness.close()


NURTURE = str(Path(sys.executable).parent / "nurture")


@pytest.mark.parametrize("mode", ["kill", "rolling"])
def test_broker_faults_lose_nothing_and_send_nothing_twice(
    cluster: LocalCluster, mode: str
) -> None:
    """Faults (a), (c), (d) at once, and the rolling restart: every acknowledged event in
    candidate.activity exactly as often as published, the outcome equal to a fault-free run's,
    no e-mail twice, no unexpected exit, every partition in sync at the end."""
    prefix = unique("bfault") + "."
    done = subprocess.run(
        [
            NURTURE,
            "chaos",
            "--broker-faults",
            mode,
            "--broker-down",
            "5",
            "--cluster-dir",
            str(cluster.settings.data_dir),
            "--prefix",
            prefix,
            "--events",
            "1500",
            "--candidates",
            "150",
            "--rate",
            "100",
            "--seed",
            "31",
            "--json",
            "--timeout",
            "400",
        ],
        capture_output=True,
        text=True,
        timeout=460,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-6000:]}"
    figures = json.loads(done.stdout)
    faults = figures["broker_faults"]
    assert faults["mode"] == mode
    restarted = {e["node"] for e in faults["events"] if e["what"] == "started again"}
    assert restarted == ({1, 2, 3} if mode == "rolling" else {faults["events"][0]["node"]})
    assert faults["acknowledged"] == faults["found"] == figures["input"]["events"]
    assert faults["missing"] == 0 and faults["extra_copies"] == 0
    assert faults["in_sync_at_end"] is True
    comparison = figures["comparison"]
    assert comparison["candidates_differing"] == 0
    assert comparison["actions_missing"] == comparison["actions_extra"] == 0
    assert figures["delivery"]["duplicate_sends"] == 0 and figures["delivery"]["emails"] > 0
    assert figures["exits"]["unexpected"] == []
    assert figures["clean"] is True
