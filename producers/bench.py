"""Throughput of the SDK against a raw kafka-python producer (``nurture bench sdk``).

Both sides use the same producer settings (acks=all, idempotence, linger, batch size,
compression) and write the same simulated activity events to one fresh topic, each timed from
the first send until every record is acknowledged:

* **raw**: ``KafkaProducer.send`` of bytes encoded before the clock starts (the floor: what
  Kafka and kafka-python cost with no validation or encoding at all);
* **sdk**: :meth:`NurtureProducer.send` of the same events as plain dicts, so the SDK validates,
  fills ``received_at``, encodes and adds headers on the clock.

Rounds alternate raw and SDK, and which of the two goes first, so neither profits from a warmer
broker or a quieter machine. The verdict is the median of the per-round SDK/raw ratios, steady
when other processes share the CPU; the best round of each side is printed too. The topic is
deleted afterwards.

"Raw" is a stock ``KafkaProducer`` with the SDK's settings (acks=all, idempotence, linger, batch
size, compression). The SDK's own client differs only by its partitioner, which remembers key
hashes (same partitions, see producers/partitioner.py): that saving is part of what the SDK does.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from producers.producer import NurtureProducer
from producers.records import DictValidation, RecordEncoder, headers_for
from producers.settings import ProducerSettings
from producers.simulate import generate
from schemas.kafka_seam import clients, topic_admin
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY

#: Target of the issue: the SDK keeps at least this share of the raw producer's throughput.
TARGET_RATIO = 0.8


@dataclass
class BenchResult:
    """Events per second of each side, per round."""

    events: int
    raw_rounds: list[float] = field(default_factory=list)
    sdk_rounds: list[float] = field(default_factory=list)
    #: CPU time of this process (all threads) per event, microseconds, per round.
    raw_cpu_us: list[float] = field(default_factory=list)
    sdk_cpu_us: list[float] = field(default_factory=list)

    @property
    def raw_per_s(self) -> float:
        return max(self.raw_rounds)

    @property
    def sdk_per_s(self) -> float:
        return max(self.sdk_rounds)

    @property
    def ratio(self) -> float:
        """Best SDK round over best raw round."""
        return self.sdk_per_s / self.raw_per_s

    @property
    def cpu_ratio(self) -> float:
        """Raw over SDK CPU time per event (best rounds): the ratio a machine of one's own gives."""
        return min(self.raw_cpu_us) / min(self.sdk_cpu_us)

    @property
    def paired_ratio(self) -> float:
        """Median of each round's SDK/raw ratio: steadier when other processes share the CPU."""
        return statistics.median(
            s / r for s, r in zip(self.sdk_rounds, self.raw_rounds, strict=True)
        )


@dataclass(frozen=True)
class SdkBenchOptions:
    """What `nurture bench sdk` measures (its options)."""

    #: Events per side and round.
    n: int = 50_000
    #: Alternating raw/SDK rounds.
    rounds: int = 5
    #: Dict validation (None: the SDK setting).
    dict_validation: DictValidation | None = None


def bench_sdk(
    kafka: KafkaSettings,
    settings: ProducerSettings | None = None,
    options: SdkBenchOptions = SdkBenchOptions(),
    *,
    report: Callable[[str], None] = print,
) -> BenchResult:
    """Measure raw vs SDK events/s on a fresh topic and ``report`` the figures."""
    n, rounds, dict_validation = options.n, options.rounds, options.dict_validation
    settings = settings or ProducerSettings()
    kafka = kafka.model_copy(update={"topic_prefix": f"bench-{uuid.uuid4().hex[:8]}."})
    topic = kafka.topic(ACTIVITY)
    events = [r.record for r in _events(n)]
    now = datetime.now(UTC)
    encoder = RecordEncoder(now=lambda: now)
    encoded = [encoder.event(e) for e in events]
    result = BenchResult(len(events))
    # The inputs stay alive for the whole run; keep the garbage collector from scanning them
    # again and again (a streaming caller does not hold 50k events), for both sides alike.
    gc.collect()
    gc.freeze()
    _create_topic(kafka, topic)
    raw = clients.producer(kafka, **settings.kafka_python_config())
    sdk = NurtureProducer(kafka, settings, dict_validation=dict_validation)
    try:
        raw.send(topic, b"warm-up", key=b"warm-up").get(timeout=30)
        sdk.send(events[0]).get(timeout=30)
        for round_no in range(1, rounds + 1):
            for side in ("raw", "sdk") if round_no % 2 else ("sdk", "raw"):
                if side == "raw":
                    with _Clock(result.raw_rounds, result.raw_cpu_us, len(encoded)):
                        for record in encoded:
                            raw.send(topic, record.value, key=record.key, headers=record.headers)
                        raw.flush()
                else:
                    with _Clock(result.sdk_rounds, result.sdk_cpu_us, len(events)):
                        for event in events:
                            sdk.send(event)
                        sdk.flush()
            report(
                f"round {round_no}: raw {result.raw_rounds[-1]:,.0f} events/s "
                f"({result.raw_cpu_us[-1]:.1f} µs CPU/event), sdk {result.sdk_rounds[-1]:,.0f} "
                f"events/s ({result.sdk_cpu_us[-1]:.1f} µs CPU/event)"
            )
    finally:
        gc.unfreeze()
        sdk.close()
        raw.close()
        _delete_topic(kafka, topic)
    _report_summary(result, settings, sdk.encoder.dict_validation, rounds, report)
    return result


def _report_summary(
    result: BenchResult,
    settings: ProducerSettings,
    dict_validation: DictValidation,
    rounds: int,
    report: Callable[[str], None],
) -> None:
    """The best rounds of each side, their ratios against the target and CPU per event."""
    verdict = "meets" if result.paired_ratio >= TARGET_RATIO else "MISSES"
    report(
        f"{result.events:,} events, compression={settings.compression_type() or 'none'}, "
        f"dict validation={dict_validation}, headers={len(headers_for('x'))}"
    )
    report(f"raw kafka-python: {result.raw_per_s:,.0f} events/s (best of {rounds})")
    report(f"sdk (dict input): {result.sdk_per_s:,.0f} events/s (best of {rounds})")
    report(f"ratio of the best rounds sdk/raw: {result.ratio:.0%}")
    report(
        f"median of the per-round ratios: {result.paired_ratio:.0%} "
        f"({verdict} the {TARGET_RATIO:.0%} target)"
    )
    report(
        f"CPU per event: raw {min(result.raw_cpu_us):.1f} µs, sdk {min(result.sdk_cpu_us):.1f} µs "
        f"(ratio {result.cpu_ratio:.0%}; wall-clock figures suffer when other processes share "
        "the CPU)"
    )


class _Clock:
    """Appends events/s (wall) and CPU µs per event of the ``with`` body to two lists."""

    def __init__(self, rates: list[float], cpu_us: list[float], events: int) -> None:
        self._rates, self._cpu_us, self._events = rates, cpu_us, events
        self._wall = self._cpu = 0.0

    def __enter__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc_info: object) -> None:
        wall, cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu
        self._rates.append(self._events / wall)
        self._cpu_us.append(cpu / self._events * 1e6)


def _events(n: int) -> list[Any]:
    """``n`` typical activity events from the simulator (profiles skipped)."""
    stream = generate(seed=7, candidates=max(1, n // 10), events=n)
    return [r for r in itertools.islice(stream, 2 * n) if r.subject == "activity_event"][:n]


def _create_topic(kafka: KafkaSettings, topic: str) -> None:
    with topic_admin.admin_client(kafka) as admin:
        replication = kafka.replication_for(topic_admin.live_broker_count(admin))
        topic_admin.create_topic(admin, topic, kafka.topic_partitions, replication)


def _delete_topic(kafka: KafkaSettings, topic: str) -> None:
    with topic_admin.admin_client(kafka) as admin:
        topic_admin.delete_topics(admin, [topic])
