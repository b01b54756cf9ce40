"""`kill -USR1` makes a nurture process print every thread's stack and go on running: the worker
(where faust's own SIGUSR1 handler is replaced, and its asyncio tasks follow) and the delivery
consumer."""

from __future__ import annotations

import asyncio
import io
import signal
from pathlib import Path

import httpx
import pytest

from schemas.settings import KafkaSettings
from schemas.stack_dump import TASKS_DUMPED, add_state_reporter, print_tasks
from tests.kafka_helpers import wait_until
from tests.test_delivery_crash import deliver_process
from tests.test_delivery_email import free_port
from tests.worker_support import WorkerHarness

pytestmark = pytest.mark.kafka

DUMPED = b"most recent call first"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.TransportError:
        return False


def test_the_worker_dumps_its_threads_on_sigusr1_and_keeps_running(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    harness = WorkerHarness(kafka, tmp_path, "stacks")
    worker = harness.worker()
    try:
        worker.start()
        url = f"http://127.0.0.1:{worker.port}/v1/health"
        wait_until(lambda: _answers(url), timeout_s=60, what="the worker's web server")
        assert worker.process is not None
        worker.process.send_signal(signal.SIGUSR1)
        # The dump is written a frame at a time: wait for the main thread's stack to be there.
        wait_until(
            lambda: b"streams/worker/run.py" in worker.log_path.read_bytes(),
            what="the main thread's stack in the log",
        )
        assert DUMPED in worker.log_path.read_bytes()
        # Then, from the event loop, what each of its tasks waits in.
        wait_until(
            lambda: TASKS_DUMPED.encode() in worker.log_path.read_bytes(),
            what="the asyncio tasks in the log",
        )
        assert b"<Task pending" in worker.log_path.read_bytes()
        assert worker.exit_code() is None
        assert _answers(url)  # still serving
    finally:
        harness.close()


def test_the_delivery_consumer_dumps_its_threads_on_sigusr1_and_keeps_running(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "NURTURE_DELIVERY_WEBHOOKS": '{"crm": "http://127.0.0.1:9"}',
        "NURTURE_DELIVERY_METRICS_PORT": str(port),
    }
    log_path = tmp_path / "deliver.log"
    with (
        log_path.open("wb") as log,
        deliver_process(kafka, "webhook", tmp_path, env, stderr=log) as process,
    ):
        url = f"http://127.0.0.1:{port}/health"
        wait_until(lambda: _answers(url), timeout_s=60, what="/health")
        process.send_signal(signal.SIGUSR1)
        wait_until(
            lambda: b"deploy/cli/deliver_cmd.py" in log_path.read_bytes(),
            what="the main thread's stack on stderr",
        )
        assert DUMPED in log_path.read_bytes()
        assert process.poll() is None
        assert _answers(url)


def test_a_task_dump_shows_every_coroutine_a_task_waits_in_and_the_state_reports() -> None:
    async def inner() -> None:
        await asyncio.sleep(30)

    async def outer() -> None:
        await inner()

    add_state_reporter(lambda: ["-- a component's state --"])

    async def main() -> str:
        task = asyncio.create_task(outer(), name="outer")
        await asyncio.sleep(0.01)
        out = io.StringIO()
        print_tasks(asyncio.get_running_loop(), out)
        task.cancel()
        return out.getvalue()

    dumped = asyncio.run(main())
    chain = dumped[dumped.index("name='outer'") :].splitlines()[1:4]
    assert [line.rsplit(" in ", 1)[1] for line in chain] == ["outer", "inner", "sleep"]
    assert "-- a component's state --" in dumped
    assert dumped.rstrip().endswith(TASKS_DUMPED)
