"""Throughput of one gateway process (``nurture bench gateway``).

Starts ``nurture gateway`` as its own process (uvicorn, one worker) against the real broker on a
fresh topic prefix, then drives it from this process: an httpx client with ``connections``
concurrent keep-alive connections posts batches of ``batch`` simulated activity events (bodies
serialised before the clock starts). Every answer must be 202 with the whole batch accepted;
anything else is counted and reported. Reports accepted events/s, requests/s, p50/p99 request
latency and the gateway process's CPU use. Target: >= 10,000 events/s in batches of 100.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from producers.simulate import generate
from schemas.errors import KafkaUnavailableError
from schemas.kafka_seam import topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, GATEWAY_ACCEPTED

#: Target of the issue: accepted events per second per gateway process, batches of 100.
TARGET_EVENTS_PER_S = 10_000
_KEY = "bench-key-" + uuid.uuid4().hex


@dataclass
class GatewayBenchResult:
    """What one measurement saw."""

    events: int = 0
    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    gateway_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


@dataclass(frozen=True)
class GatewayBenchOptions:
    """What `nurture bench gateway` measures (its options)."""

    #: Measured load duration.
    seconds: float = 15.0
    #: Events per request.
    batch: int = 100
    #: Concurrent connections.
    connections: int = 8
    #: The gateway's validation: codec or model.
    validation: str = "codec"


def bench_gateway(
    kafka: KafkaSettings,
    options: GatewayBenchOptions = GatewayBenchOptions(),
    *,
    report: Callable[[str], None] = print,
) -> GatewayBenchResult:
    """Run the gateway as a process, load it for ``options.seconds`` and ``report`` the
    figures."""
    seconds, batch = options.seconds, options.batch
    connections, validation = options.connections, options.validation
    kafka = kafka.model_copy(update={"topic_prefix": f"bench-gw-{uuid.uuid4().hex[:8]}."})
    topic = kafka.topic(ACTIVITY)
    topics = [topic, kafka.topic(GATEWAY_ACCEPTED)]  # the gateway shares accepted ids there
    bodies = _Bodies(batch)
    with topic_admin.admin_client(kafka) as admin:
        for name in topics:
            topic_admin.create_topic(admin, name, kafka.topic_partitions, 1)
    port = _free_port()
    process = _start_gateway(kafka, port, validation, batch)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        asyncio.run(_load(url, bodies, batch, connections, seconds=2.0))  # warm-up
        cpu_before = _cpu_seconds(process.pid)
        result = asyncio.run(_load(url, bodies, batch, connections, seconds=seconds))
        result.gateway_cpu_s = _cpu_seconds(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        with topic_admin.admin_client(kafka) as admin:
            topic_admin.delete_topics(admin, topics)
    verdict = "meets" if result.events_per_s >= TARGET_EVENTS_PER_S else "MISSES"
    report(f"gateway: 1 uvicorn process, validation={validation}, {connections} connections")
    report(f"batches of {batch}: {result.requests:,} requests in {result.seconds:.1f} s")
    report(
        f"accepted: {result.events_per_s:,.0f} events/s ({verdict} the "
        f"{TARGET_EVENTS_PER_S:,} target), {result.requests / result.seconds:,.0f} requests/s"
    )
    report(
        f"latency per request: p50 {result.percentile_ms(0.5):.1f} ms, "
        f"p99 {result.percentile_ms(0.99):.1f} ms"
    )
    report(
        f"gateway CPU: {result.gateway_cpu_s / result.seconds:.0%} of one core "
        f"({result.gateway_cpu_s / max(1, result.events) * 1e6:.0f} µs per event)"
    )
    report(
        f"load client CPU: {result.client_cpu_s / result.seconds:.0%} of one core; machine: "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (Kafka and others share it)"
    )
    report(f"failed requests (not 202 with every event accepted): {result.failures}")
    return result


async def _load(
    url: str, bodies: _Bodies, batch: int, connections: int, *, seconds: float
) -> GatewayBenchResult:
    result = GatewayBenchResult()
    headers = {"Authorization": f"Bearer {_KEY}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    started = time.perf_counter()
    client_cpu = time.process_time()
    deadline = started + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            response = await client.post("/v1/events", content=bodies.next(), headers=headers)
            result.latencies_s.append(time.perf_counter() - sent)
            result.requests += 1
            if response.status_code == 202 and response.json()["accepted"] == batch:
                result.events += batch
            else:
                result.failures += 1

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    result.client_cpu_s = time.process_time() - client_cpu
    return result


class _Bodies:
    """Request bodies of ``batch`` simulated events, each event with a fresh event_id.

    Events are serialised once (without their id); a body is the join of ``batch`` of them with
    a counter id spliced in front, so building one costs the load client a few µs per event and
    the gateway never sees a repeated id (it would answer ``duplicate``).
    """

    def __init__(self, batch: int, pool: int = 2000) -> None:
        stream = generate(seed=11, candidates=max(10, pool // 20), events=pool * 2)
        events = [r.record for r in stream if r.subject == "activity_event"][:pool]
        self._fragments = [
            orjson.dumps(
                {k: v for k, v in e.items() if k not in ("event_id", "received_at")}
                | {"source": "bench"}
            )[1:]
            for e in events
        ]
        self._batch = batch
        self._run = uuid.uuid4().hex[:8].encode()
        self._counter = itertools.count()
        self._next_fragment = itertools.cycle(self._fragments)

    def next(self) -> bytes:
        parts = [
            b'{"event_id":"%s-%d",%s' % (self._run, next(self._counter), next(self._next_fragment))
            for _ in range(self._batch)
        ]
        return b'{"events":[' + b",".join(parts) + b"]}"


def _start_gateway(
    kafka: KafkaSettings, port: int, validation: str, batch: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NURTURE_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "NURTURE_GATEWAY_API_KEYS": f"bench={_KEY}",
        "NURTURE_GATEWAY_RATE_LIMIT_EVENTS_PER_S": "1e9",
        "NURTURE_GATEWAY_RATE_LIMIT_BURST": str(10**9),
        "NURTURE_GATEWAY_VALIDATION": validation,
        "NURTURE_GATEWAY_MAX_BATCH_EVENTS": str(max(500, batch)),
    }
    nurture = Path(sys.executable).parent / "nurture"
    command = [
        str(nurture),
        "--topic-prefix",
        kafka.topic_prefix,
        "gateway",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, env=env)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise KafkaUnavailableError(f"the gateway exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise KafkaUnavailableError(f"the gateway at {url} was not ready within {timeout_s} s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
