"""Start, stop and inspect the local registry process.

Layout of the data dir::

    <data dir>/
      registry.log     the registry's console log (Quarkus), appended at each start
      registry.json    pid, URL, ports, version and Java of the running registry

The schemas live in the registry's in-memory H2 database: a restart starts empty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from deploy.local_process import alive, await_exit, port_in_use
from deploy.registry import download
from deploy.registry.errors import RegistryError
from deploy.registry.java import JavaRuntime, find_java
from deploy.registry.settings import LOOPBACK, RegistrySettings

#: The readiness probe: the Confluent-compatible subject list answers 200 once storage is up.
READY_PATH = "/subjects"
_POLL_INTERVAL_S = 0.2
#: Marks the registry's command line as this data dir's, so a reused pid is not taken for it.
_DATA_DIR_PROPERTY = "nurture.registry.data-dir"


@dataclass(frozen=True)
class RegistryStatus:
    """What `nurture registry status` reports."""

    running: bool
    pid: int | None
    #: The Confluent-compatible API (``.../apis/ccompat/v7``).
    url: str
    port: int
    management_port: int
    data_dir: str
    version: str
    java_home: str | None
    log_file: str


class LocalRegistry:
    """An Apicurio Registry run as a background Java process (in-memory storage)."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.settings = settings
        self.root = settings.data_dir
        self.log_file = self.root / "registry.log"
        self.state_file = self.root / "registry.json"

    def status(self) -> RegistryStatus:
        pid = self._running_pid()
        state = self._read_state() if pid is not None else {}
        java_home = state.get("java_home")
        return RegistryStatus(
            running=pid is not None,
            pid=pid,
            url=str(state.get("url", self.settings.url)),
            port=_int(state.get("port"), self.settings.port),
            management_port=_int(state.get("management_port"), self.settings.management),
            data_dir=str(self.root),
            version=str(state.get("version", download.VERSION)),
            java_home=str(java_home) if java_home else None,
            log_file=str(self.log_file),
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip()
        except FileNotFoundError:
            return "(no log yet)"
        return "\n".join(text.splitlines()[-lines:]) or "(no log yet)"

    def start(self) -> tuple[RegistryStatus, bool]:
        """Start the registry and wait until its Confluent-compatible API answers.

        Returns the status and whether this call started it (False: it was already running,
        maybe on other ports than asked: the status says where). Raises RegistryError when Java
        21+ is missing, a port is taken, the download fails or the registry does not come up
        (with the tail of its log; it is stopped then).
        """
        if self._running_pid() is not None:
            return self.status(), False
        for port in (self.settings.port, self.settings.management):
            if port_in_use(LOOPBACK, port):
                raise RegistryError(
                    f"{LOOPBACK}:{port} is already in use by another process; choose another "
                    "--port (NURTURE_REGISTRY_PORT, _MANAGEMENT_PORT) or stop that process"
                )
        java = find_java(self.settings.java_home)
        release = download.ensure_release(self.settings.cache)
        self.root.mkdir(parents=True, exist_ok=True)
        process = self._spawn(java, release)
        self._write_state(process.pid, java)
        self._await_ready(process)
        return self.status(), True

    def stop(self) -> bool:
        """Stop the registry (SIGTERM, then SIGKILL after the stop timeout); False when it was
        not running."""
        pid = self._running_pid()
        if pid is None:
            self.state_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        await_exit(pid, self.settings.stop_timeout_s, interval_s=_POLL_INTERVAL_S)
        self.state_file.unlink(missing_ok=True)
        return True

    # -- internals ----------------------------------------------------------------------------

    def _command(self, java: JavaRuntime, release: Path) -> list[str]:
        return [
            str(java.executable),
            f"-Xmx{self.settings.heap}",
            f"-D{_DATA_DIR_PROPERTY}={self.root}",
            f"-Dquarkus.http.host={LOOPBACK}",
            f"-Dquarkus.http.port={self.settings.port}",
            f"-Dquarkus.management.host={LOOPBACK}",
            f"-Dquarkus.management.port={self.settings.management}",
            "-jar",
            str(release / download.RUNNER_JAR),
        ]

    def _spawn(self, java: JavaRuntime, release: Path) -> subprocess.Popen[bytes]:
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                self._command(java, release),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI and a Ctrl-C in its terminal
                cwd=self.root,
            )

    def _await_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        probe_url = self.settings.url + READY_PATH
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    self.state_file.unlink(missing_ok=True)
                    raise RegistryError(
                        f"the registry exited with status {process.returncode} during start-up; "
                        f"last lines of {self.log_file}:\n{self.log_tail()}"
                    )
                if _answers(client, probe_url):
                    return
                time.sleep(_POLL_INTERVAL_S)
        self.stop()
        raise RegistryError(
            f"the registry did not answer {probe_url} within {self.settings.start_timeout_s:.0f}s;"
            f" last lines of {self.log_file}:\n{self.log_tail()}"
        )

    def _read_state(self) -> dict[str, object]:
        try:
            loaded = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _write_state(self, pid: int, java: JavaRuntime) -> None:
        state = {
            "pid": pid,
            "url": self.settings.url,
            "port": self.settings.port,
            "management_port": self.settings.management,
            "version": download.VERSION,
            "java_home": str(java.home),
            "started_at": time.time(),
        }
        self.state_file.write_text(json.dumps(state))

    def _running_pid(self) -> int | None:
        pid = self._read_state().get("pid")
        if not isinstance(pid, int) or not alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid  # no /proc (not Linux): trust the pid file
        if f"-D{_DATA_DIR_PROPERTY}={self.root}".encode() not in cmdline:
            return None  # the pid was reused by another process
        return pid


def ensure_local_registry(settings: RegistrySettings | None = None) -> str:
    """The URL of the local registry's Confluent-compatible API, started first unless it runs
    (for `nurture up` when the configured registry is the local one)."""
    status, _ = LocalRegistry(settings or RegistrySettings()).start()
    return status.url


def status_dict(status: RegistryStatus) -> dict[str, object]:
    return asdict(status)


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) else default
