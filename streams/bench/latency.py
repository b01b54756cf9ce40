"""Latency of a caught-up worker (`nurture bench worker`, figure c): events sent at a steady
rate, each timed from its send to the arrival of the engagement record it produced."""

from __future__ import annotations

import statistics
import threading
import time

from kafka import TopicPartition

from schemas.codec import activity_codec, codec_for
from schemas.kafka_seam import clients
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY, ENGAGEMENT
from streams.bench.loadgen import encoded_events, live_spec
from streams.worker.probe import WorkerProcess, wait_caught_up


def latency_to_engagement(
    kafka: KafkaSettings, rate: float, seconds: float, candidates: int, worker: WorkerProcess
) -> tuple[float, float, int]:
    """p50 and p99 (ms) from send to engagement record, at a steady rate, and the sample size."""
    engagement = kafka.topic(ENGAGEMENT)
    consumer = clients.consumer(kafka, fetch_max_wait_ms=5)
    partitions = [TopicPartition(engagement, p) for p in consumer.partitions_for_topic(engagement)]
    consumer.assign(partitions)
    consumer.seek_to_end(*partitions)
    for tp in partitions:
        consumer.position(tp)
    total = int(rate * seconds)
    spec = live_spec(events=total, candidates=candidates, duplicate_share=0.0, run="lat")
    pairs = encoded_events(spec)
    event_ids = [activity_codec().decode(value)["event_id"] for _, value in pairs]
    sent_at: dict[str, float] = {}
    producer = clients.producer(kafka, acks="all", linger_ms=0)

    def send_paced() -> None:
        start = time.perf_counter()
        for n, ((key, value), event_id) in enumerate(zip(pairs, event_ids, strict=True)):
            due = start + n / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent_at[event_id] = time.perf_counter()
            producer.send(kafka.topic(ACTIVITY), key=key, value=value)
        producer.flush()

    sender = threading.Thread(target=send_paced, daemon=True)
    sender.start()
    decode = codec_for("engagement_record").decode
    latencies: dict[str, float] = {}
    group = f"{kafka.topic_prefix}{app_id_of(worker)}"

    def drain(timeout_ms: int) -> None:
        for records in consumer.poll(timeout_ms=timeout_ms).values():
            now = time.perf_counter()
            for record in records:
                if record.value is None:
                    continue
                event_id = decode(record.value)["last_event_id"]
                if event_id in sent_at and event_id not in latencies:
                    latencies[event_id] = (now - sent_at[event_id]) * 1000

    try:
        while sender.is_alive():
            drain(50)
        wait_caught_up(kafka, group, kafka.topic(ACTIVITY), timeout_s=120, alive=worker)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            drain(100)
    finally:
        sender.join()
        producer.close()
        consumer.close()
    ordered = sorted(latencies.values())
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, len(ordered)


def app_id_of(worker: WorkerProcess) -> str:
    return worker.env["NURTURE_WORKER_APP_ID"]
