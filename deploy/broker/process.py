"""Start, stop and inspect the local broker process.

Layout of the data dir::

    <data dir>/
      server.properties, log4j2.properties   rendered at each start
      data/                                  the KRaft log dirs (formatted once)
      broker.log                             the broker's log
      broker.json                            pid, listener, version of the running broker
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.broker import config, jars
from deploy.broker.settings import BrokerSettings, JarCacheSettings
from deploy.local_process import alive, await_exit, kill_and_wait, port_in_use
from schemas.errors import BrokerError
from schemas.settings import KafkaSettings

_MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True)
class BrokerStatus:
    """What `nurture broker status` reports."""

    running: bool
    pid: int | None
    listener: str
    data_dir: str
    kafka_version: str
    log_file: str


@dataclass(frozen=True)
class _Paths:
    root: Path

    @property
    def log_dirs(self) -> Path:
        return self.root / "data"

    @property
    def server_properties(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def log_file(self) -> Path:
        return self.root / "broker.log"

    @property
    def state(self) -> Path:
        return self.root / "broker.json"

    @property
    def stdout(self) -> Path:
        return self.root / "broker.stdout"


class LocalBroker:
    """A single-node KRaft broker run as a background Java process."""

    def __init__(self, settings: BrokerSettings, cache: JarCacheSettings | None = None) -> None:
        self.settings = settings
        self.cache = cache or JarCacheSettings()
        self.paths = _Paths(settings.data_dir)

    # -- inspection ---------------------------------------------------------------------------

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        state = self._read_state()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            listener=str(state.get("listener", self.settings.listener)),
            data_dir=str(self.paths.root),
            kafka_version=str(state.get("kafka_version", jars.kafka_version())),
            log_file=str(self.paths.log_file),
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the broker log, and of its stdout (JVM start-up errors land there)."""
        parts = []
        for path in (self.paths.log_file, self.paths.stdout):
            try:
                text = path.read_text(errors="replace").strip()
            except FileNotFoundError:
                continue
            if text:
                parts.append(f"--- {path.name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts) or "(no log yet)"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> tuple[BrokerStatus, bool]:
        """Start the broker and wait until it answers metadata requests.

        Returns the status and whether this call started it (False: it was already running).
        Raises BrokerError with the tail of the broker log when it does not come up.
        """
        if self._running_pid() is not None:
            return self.status(), False
        process = self.launch()
        self.await_ready(process)
        return self.status(), True

    def launch(self) -> subprocess.Popen[bytes]:
        """Format the data dir on first use and spawn the broker, without waiting for it (the
        nodes of a cluster start together: none answers before a quorum of controllers runs).

        Raises BrokerError when one of its ports is taken or formatting fails.
        """
        for port in (self.settings.port, self.settings.controller):
            if port_in_use(self.settings.host, port):
                raise BrokerError(
                    f"{self.settings.host}:{port} is already in use by another process (another "
                    f"Kafka with a different data dir?); choose --port or stop that process"
                )
        jars.require_java()
        libs = jars.ensure_jars(self.cache.cache, quiet=True)
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.paths.log4j.write_text(config.log4j2_properties(self.paths.log_file))
        if not (self.paths.log_dirs / "meta.properties").exists():
            self._format(libs)
        process = self._spawn(libs)
        self._write_state(process.pid)
        return process

    def stop(self) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after the timeout).

        Returns False when it was not running.
        """
        pid = self._running_pid()
        if pid is None:
            self.paths.state.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        self._await_exit(pid)
        return True

    def signal_stop(self) -> None:
        """Begin a controlled shutdown (SIGTERM) without waiting for it (:meth:`stop` waits)."""
        pid = self._running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)

    def kill(self) -> bool:
        """SIGKILL the broker (a crash: no controlled shutdown); False when it was not running."""
        pid = self._running_pid()
        if pid is None:
            return False
        kill_and_wait(pid)
        self.paths.state.unlink(missing_ok=True)
        return True

    def _await_exit(self, pid: int) -> None:
        await_exit(pid, self.settings.stop_timeout_s)
        self.paths.state.unlink(missing_ok=True)

    def client_settings(self) -> KafkaSettings:
        """Settings a client of this broker uses (secure mode adds TLS and credentials)."""
        return KafkaSettings(bootstrap_servers=self.settings.listener)

    # -- internals ----------------------------------------------------------------------------

    def _redacted(self, text: str) -> str:
        """``text`` safe to show (secure mode hides its passwords)."""
        return text

    def _write_config(self) -> None:
        """Render ``server.properties`` (secure mode also makes its certificates and users)."""
        self.paths.server_properties.write_text(
            config.server_properties(self.settings, self.paths.log_dirs)
        )

    def _format_options(self) -> list[str]:
        """Extra ``StorageTool format`` options (secure mode adds its SCRAM users)."""
        return []

    def _java(self, libs: Path, *args: str, heap: str | None = None) -> list[str]:
        cmd = ["java"]
        if heap:
            cmd += [f"-Xmx{heap}", f"-Xms{heap}"]
        cmd += [
            f"-Dlog4j2.configurationFile={self.paths.log4j}",
            "-cp",
            str(libs / "*"),
        ]
        return cmd + list(args)

    def _cluster_id(self, libs: Path) -> str:
        """The id the data dir is formatted with (a cluster's nodes share theirs)."""
        return new_cluster_id(libs)

    def _format(self, libs: Path) -> None:
        cluster_id = self._cluster_id(libs)
        formatted = subprocess.run(
            self._java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.paths.server_properties),
                *self._format_options(),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise BrokerError(
                f"formatting {self.paths.log_dirs} failed:\n"
                + self._redacted(formatted.stdout + formatted.stderr)
            )

    def _spawn(self, libs: Path) -> subprocess.Popen[bytes]:
        cmd = self._java(libs, _MAIN_CLASS, str(self.paths.server_properties))
        cmd.insert(1, f"-Xmx{self.settings.heap}")
        with self.paths.stdout.open("ab") as stdout:
            return subprocess.Popen(
                cmd,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI and a Ctrl-C in its terminal
                cwd=self.paths.root,
            )

    def await_ready(self, process: subprocess.Popen[bytes]) -> None:
        """Wait until the broker answers metadata requests; BrokerError (with its log's tail)
        when it exits or does not answer within the start timeout (it is stopped then)."""
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.paths.state.unlink(missing_ok=True)
                raise BrokerError(
                    f"the broker exited with status {process.returncode} during start-up; "
                    f"last lines of {self.paths.log_file}:\n{self.log_tail()}"
                )
            if answers_metadata(self.client_settings()):
                return
            time.sleep(0.3)
        self.stop()
        raise BrokerError(
            f"the broker did not answer metadata requests within "
            f"{self.settings.start_timeout_s:.0f}s; last lines of {self.paths.log_file}:\n"
            f"{self.log_tail()}"
        )

    def _read_state(self) -> dict[str, object]:
        try:
            loaded = json.loads(self.paths.state.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _write_state(self, pid: int) -> None:
        state = {
            "pid": pid,
            "listener": self.settings.listener,
            "kafka_version": jars.kafka_version(),
            "started_at": time.time(),
        }
        self.paths.state.write_text(json.dumps(state))

    def _running_pid(self) -> int | None:
        pid = self._read_state().get("pid")
        if not isinstance(pid, int) or not alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid  # no /proc (not Linux): trust the pid file
        if (
            _MAIN_CLASS.encode() not in cmdline
            or str(self.paths.server_properties).encode() not in cmdline
        ):
            return None  # the pid was reused by another process
        return pid


def new_cluster_id(libs: Path) -> str:
    """A fresh KRaft cluster id from Kafka's own StorageTool."""
    random_uuid = subprocess.run(
        ["java", "-cp", str(libs / "*"), "kafka.tools.StorageTool", "random-uuid"],
        capture_output=True,
        text=True,
        check=False,
    )
    cluster_id = random_uuid.stdout.strip().splitlines()[-1] if random_uuid.stdout else ""
    if random_uuid.returncode != 0 or not cluster_id:
        raise BrokerError(f"could not make a cluster id: {random_uuid.stderr[-1000:]}")
    return cluster_id


def answers_metadata(settings: KafkaSettings, timeout_s: float = 2.0) -> bool:
    """True when the cluster in ``settings`` answers a metadata request within about timeout_s."""
    from kafka.errors import KafkaConfigurationError, KafkaError  # noqa: PLC0415

    from schemas.kafka_seam import clients  # noqa: PLC0415 - imports kafka: slow module

    try:
        consumer = clients.consumer(
            settings,
            request_timeout_ms=int(timeout_s * 1000) + 1000,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            connections_max_idle_ms=int(timeout_s * 1000) + 5000,
        )
    except KafkaConfigurationError:
        raise
    except (KafkaError, OSError):
        return False
    try:
        consumer.topics()
        return True
    except KafkaConfigurationError:
        raise
    except (KafkaError, OSError):
        return False
    finally:
        consumer.close()


def status_dict(status: BrokerStatus) -> dict[str, object]:
    return asdict(status)
