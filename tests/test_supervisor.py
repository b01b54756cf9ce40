"""The `nurture up` supervisor with real child processes: restart with backoff, ordered stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.up.plan import UpOptions, pipeline_children
from deploy.up.supervisor import ChildSpec, Supervisor, backoff_s
from schemas.settings import KafkaSettings
from tests.kafka_helpers import wait_until


def _script(body: str) -> list[str]:
    return [sys.executable, "-c", body]


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_s(20) == 30.0


def test_crashed_child_is_restarted_and_finished_child_is_not(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    crash_twice = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "sys.exit(3 if n < 2 else 0)\n"
    )
    supervisor = Supervisor([ChildSpec("flaky", _script(crash_twice))], tmp_path / "logs")
    supervisor.start_all()

    def finished() -> bool:
        supervisor.poll()
        return supervisor.all_finished

    wait_until(finished, timeout_s=15, what="the flaky child to succeed after two restarts")
    child = supervisor.children[0]
    assert counter.read_text() == "3"
    assert child.restarts == 2
    assert child.last_exit == 0


def test_stop_all_terminates_in_reverse_order(tmp_path: Path) -> None:
    order = tmp_path / "order"
    ready = tmp_path / "ready"
    ready.mkdir()

    def child(name: str) -> ChildSpec:
        body = (
            "import pathlib, signal, sys, time\n"
            f"def bye(*_):\n    pathlib.Path({str(order)!r}).open('a').write({name!r} + '\\n')\n"
            "    sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, bye)\n"
            f"pathlib.Path({str(ready / name)!r}).touch()\n"
            "while True: time.sleep(0.05)\n"
        )
        return ChildSpec(name, _script(body), grace_s=10)

    supervisor = Supervisor([child("worker"), child("gateway"), child("simulator")], tmp_path)
    supervisor.start_all()
    wait_until(lambda: len(list(ready.iterdir())) == 3, timeout_s=15, what="children to start")
    started = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - started < 10
    assert order.read_text().split() == ["simulator", "gateway", "worker"]
    assert all(c.process is not None and c.process.poll() == 0 for c in supervisor.children)


def test_child_that_ignores_sigterm_is_killed_after_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    body = (
        "import pathlib, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "while True: time.sleep(0.05)\n"
    )
    supervisor = Supervisor([ChildSpec("stubborn", _script(body), grace_s=1)], tmp_path)
    supervisor.start_all()
    wait_until(ready.exists, timeout_s=15, what="child to start")
    supervisor.stop_all()
    process = supervisor.children[0].process
    assert process is not None and process.returncode == -9


def test_plan_passes_cluster_settings_to_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NURTURE_GATEWAY_API_KEYS", raising=False)
    monkeypatch.delenv("NURTURE_GATEWAY_API_KEYS_FILE", raising=False)
    settings = KafkaSettings(bootstrap_servers="kafka.example:9093", topic_prefix="staging.")
    children = pipeline_children(settings, UpOptions(demo=True), tmp_path)
    names = [c.name for c in children]
    # Reverse of the stop order: producers of input, then the worker, then delivery (and the
    # local webhook sink delivery sends to).
    assert names == [
        "webhook-sink",
        *(f"deliver-{channel}" for channel in UpOptions().delivery_channels),
        "worker",
        "gateway",
        "simulator",
    ]
    for c in children:
        assert c.env["NURTURE_BOOTSTRAP_SERVERS"] == "kafka.example:9093"
        assert c.env["NURTURE_TOPIC_PREFIX"] == "staging."
    assert "simulator" not in [c.name for c in pipeline_children(settings, UpOptions(), tmp_path)]
    gateway = next(c for c in children if c.name == "gateway")
    keys = Path(gateway.env["NURTURE_GATEWAY_API_KEYS_FILE"])
    assert keys.stat().st_mode & 0o777 == 0o600
    assert "simulator=" in keys.read_text()
    assert next(c for c in children if c.name == "worker").env["NURTURE_WORKER_DATA_DIR"] == str(
        tmp_path / "worker"
    )


def test_user_gateway_keys_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_GATEWAY_API_KEYS", "ats=abc")
    children = pipeline_children(KafkaSettings(), UpOptions(), tmp_path)
    gateway = next(c for c in children if c.name == "gateway")
    assert "NURTURE_GATEWAY_API_KEYS_FILE" not in gateway.env
    assert not (tmp_path / "gateway-api-keys").exists()


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no chance to stop its children: the kernel does it."""
    pid_file = tmp_path / "child.pid"
    body = (
        "import os, pathlib, time\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
        "time.sleep(300)\n"
    )
    runner = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from deploy.up.supervisor import ChildSpec, Supervisor\n"
        f"s = Supervisor([ChildSpec('sleeper', [sys.executable, '-c', {body!r}])], "
        f"Path({str(tmp_path / 'logs')!r}))\n"
        "s.start_all()\n"
        "time.sleep(300)\n"
    )
    supervisor = subprocess.Popen([sys.executable, "-c", runner])
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), what="the child started")
        child_pid = int(pid_file.read_text())
        supervisor.kill()
        supervisor.wait(timeout=10)

        def gone() -> bool:
            try:
                os.kill(child_pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, timeout_s=10, what="the orphaned child to stop")
    finally:
        supervisor.kill()
