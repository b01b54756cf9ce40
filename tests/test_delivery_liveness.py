"""Liveness and shutdown of `nurture deliver`: a stalled loop exits 75 and says why, /health
reports commit progress, SIGTERM mid-batch loses and doubles nothing."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from consumers.liveness import EXIT_STALLED, Beat, CommitWatch, stall_reason
from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until
from tests.process_helpers import finish
from tests.test_delivery_crash import deliver_process
from tests.test_delivery_email import free_port
from tests.test_delivery_support import (
    HoldingReceiver,
    Receiver,
    action,
    http_receiver,
    outcomes,
    profile,
    publish_actions,
    publish_profile,
)


def test_stalled_only_when_waiting_without_progress_or_stuck_in_a_batch() -> None:
    live = Beat(at=100.0, progress_at=10.0, waiting=0)
    assert stall_reason(live, now=101.0, stall_timeout_s=60) is None  # idle, nothing waits
    waiting = Beat(at=100.0, progress_at=10.0, waiting=3)
    assert "3 actions wait" in (stall_reason(waiting, now=101.0, stall_timeout_s=60) or "")
    assert stall_reason(waiting, now=101.0, stall_timeout_s=100) is None
    stuck = Beat(at=100.0, progress_at=100.0, waiting=0)
    assert "poll batch" in (stall_reason(stuck, now=161.0, stall_timeout_s=60) or "")


def test_the_watchdog_stops_the_loop_then_gives_up_after_the_grace() -> None:
    now = [0.0]
    watch = CommitWatch(5.0, clock=lambda: now[0])
    watch.restart()
    now[0] = 2.0
    watch.beat(progress=False, waiting=2)  # polls go on, offsets do not move
    now[0] = 6.0
    stop, finished, gave_up = threading.Event(), threading.Event(), threading.Event()
    reasons: list[str] = []

    def on_stall(reason: str) -> None:
        reasons.append(reason)
        gave_up.set()

    guard = threading.Thread(
        target=watch.guard,
        args=(stop, finished),
        kwargs={"interval_s": 0.01, "grace_s": 0.05, "on_stall": on_stall},
    )
    guard.start()
    guard.join(timeout=10)
    assert stop.is_set() and gave_up.is_set()
    assert watch.stalled == reasons[0] and "2 actions wait" in reasons[0]
    assert watch.status()["status"] == "stalled"
    now[0] = 7.0
    watch.beat(progress=True, waiting=0)  # the loop's last batch completes while it stops
    assert watch.check() is None
    assert watch.status()["status"] == "stalled" and watch.status()["stopping"] is True
    assert watch.status()["reason"] == reasons[0]


def test_progress_keeps_the_watch_healthy() -> None:
    now = [0.0]
    watch = CommitWatch(5.0, clock=lambda: now[0])
    assert watch.status()["status"] == "starting"
    now[0] = 60.0
    assert watch.check() is None  # building the loop takes what it takes
    watch.restart()
    for step in range(1, 20):
        now[0] = step * 2.0
        watch.beat(progress=step % 2 == 0, waiting=5)
        assert watch.check() is None
    assert watch.status()["status"] == "ok" and watch.status()["stopping"] is False


def _health(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    except httpx.TransportError:
        return None


def _healthy(port: int) -> httpx.Response | None:
    answer = _health(port)
    return answer if answer is not None and answer.json()["status"] == "ok" else None


def _stopping(port: int) -> httpx.Response | None:
    answer = _health(port)
    if answer is None or answer.status_code != 503:
        return None
    return answer if answer.json()["stopping"] else None


@pytest.mark.kafka
def test_a_stalled_consumer_reports_it_finishes_the_send_and_exits_75(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    publish_profile(kafka, profile("cand-st"))
    the_action = action("cand-st")
    receiver = HoldingReceiver()  # the send hangs until released
    port = free_port()
    try:
        with http_receiver(receiver) as url:
            env = {
                "NURTURE_DELIVERY_WEBHOOKS": f'{{"crm": "{url}"}}',
                "NURTURE_DELIVERY_HTTP_TIMEOUT_S": "60",
                "NURTURE_DELIVERY_STALL_TIMEOUT_S": "8",
                "NURTURE_DELIVERY_LIVENESS_CHECK_S": "0.2",
                "NURTURE_DELIVERY_METRICS_PORT": str(port),
            }
            with deliver_process(
                kafka, "webhook", tmp_path, env, stderr=subprocess.PIPE
            ) as process:
                ok = wait_until(lambda: _healthy(port), what="/health ok")
                assert ok.json()["seconds_since_progress"] < 8
                assert (
                    "nurture_delivery_last_commit_timestamp_seconds"
                    in httpx.get(f"http://127.0.0.1:{port}/metrics").text
                )
                publish_actions(kafka, the_action)
                wait_until(
                    lambda: receiver.count() == 1 or process.poll() is not None or outcomes(kafka),
                    what="the held request",
                )
                assert process.poll() is None, process.communicate(timeout=5)[1].decode()
                assert receiver.count() == 1, outcomes(kafka)
                # /health turns 503 as soon as the stall shows; release the send only once the
                # watchdog (checking every 0.2 s) has acted, or the loop would just go on.
                stalled = wait_until(lambda: _stopping(port), what="/health says stopping")
                assert "poll batch" in stalled.json()["reason"]
                receiver.release.set()  # the in-flight send completes; the loop then returns
                _, stderr = finish(process, 60)
                assert process.returncode == EXIT_STALLED
    finally:
        receiver.release.set()
    assert b"stalled" in stderr and b"status 75" in stderr
    found = [o for o in outcomes(kafka) if o["action_id"] == the_action.action_id]
    assert [(o["outcome"], o["attempt"]) for o in found] == [("sent", 1)]
    assert receiver.count() == 1


@pytest.mark.kafka
def test_sigterm_mid_batch_then_restart_sends_every_action_exactly_once(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    candidates = [f"cand-t{i}" for i in range(6)]
    for candidate in candidates:
        publish_profile(kafka, profile(candidate))
    actions = [action(candidates[i % len(candidates)]) for i in range(30)]
    receiver = Receiver()
    with http_receiver(receiver) as url:
        env = {
            "NURTURE_DELIVERY_WEBHOOKS": f'{{"crm": "{url}"}}',
            "NURTURE_DELIVERY_RATE_PER_S": "10",  # about 3 s for the whole batch
            "NURTURE_DELIVERY_RATE_BURST": "1",
        }
        with deliver_process(kafka, "webhook", tmp_path, env) as first:
            publish_actions(kafka, *actions)
            wait_until(lambda: receiver.count() >= 5, what="the batch under way")
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
        stopped_at = receiver.count()
        assert stopped_at < len(actions), "SIGTERM came too late to test a partial batch"
        with deliver_process(kafka, "webhook", tmp_path, env) as second:
            wait_until(
                lambda: len(outcomes(kafka)) >= len(actions), timeout_s=60, what="all outcomes"
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    keys = sorted(r.headers["Idempotency-Key"] for r in receiver.receptions)
    assert keys == sorted(a.action_id for a in actions)
    found = outcomes(kafka)
    assert sorted(o["action_id"] for o in found) == keys
    assert {o["outcome"] for o in found} == {"sent"}
