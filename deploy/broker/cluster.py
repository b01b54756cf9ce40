"""A KRaft cluster of several brokers on this host (`nurture broker start --nodes 3`).

Every node is broker and controller, so any majority of them keeps the cluster running: with
three nodes, one may crash (`nurture broker kill NODE`) while producers with acks=all go on
writing to the two in-sync copies. Layout of the cluster's data dir::

    <data dir>/
      cluster.json         the cluster id and its node count (fixed at the first start)
      node-1/, node-2/ ... one broker data dir each (see ``process.py``)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.broker import config, jars
from deploy.broker.process import BrokerStatus, LocalBroker, answers_metadata, new_cluster_id
from deploy.broker.settings import BrokerSettings, JarCacheSettings
from schemas.errors import BrokerError
from schemas.settings import KafkaSettings

#: Settings the first start fixes in ``cluster.json`` (the controller quorum is formatted
#: with them).
_FIXED = ("host", "port", "controller_port")


def formatted_nodes(data_dir: Path) -> int | None:
    """The node count of the cluster formatted in ``data_dir`` (None: no cluster there)."""
    try:
        meta = json.loads((data_dir / META_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    nodes = meta.get("nodes") if isinstance(meta, dict) else None
    return nodes if isinstance(nodes, int) else None


#: The file of a cluster's data dir that holds its id, node count and ports.
META_FILE = "cluster.json"


class ClusterNode(LocalBroker):
    """One node of a :class:`LocalCluster`: its own ports and data dir, the cluster's id."""

    def __init__(
        self,
        cluster: BrokerSettings,
        node_id: int,
        cluster_id: str,
        cache: JarCacheSettings | None = None,
    ) -> None:
        port, controller = config.node_ports(cluster, node_id)
        own = cluster.model_copy(
            update={
                "port": port,
                "controller_port": controller,
                "data_dir": cluster.data_dir / f"node-{node_id}",
            }
        )
        super().__init__(own, cache)
        self.cluster = cluster
        self.node_id = node_id
        self.cluster_id = cluster_id

    def _write_config(self) -> None:
        values = config.node_properties(
            self.cluster, self.node_id, self.cluster.nodes, self.paths.log_dirs
        )
        self.paths.server_properties.write_text(config.render_properties(values))

    def _cluster_id(self, libs: Path) -> str:
        return self.cluster_id


@dataclass(frozen=True)
class NodeStatus:
    """One node in `nurture broker status` of a cluster."""

    node_id: int
    status: BrokerStatus


class LocalCluster:
    """``settings.nodes`` brokers started, stopped and inspected together; one at a time for
    fault tests (:meth:`kill`, :meth:`restart`)."""

    def __init__(self, settings: BrokerSettings, cache: JarCacheSettings | None = None) -> None:
        self.settings = settings
        self.cache = cache or JarCacheSettings()
        self.meta_file = settings.data_dir / META_FILE

    @property
    def bootstrap_servers(self) -> str:
        """Every node's listener, comma-separated (what clients are given)."""
        settings = self._formatted_settings()
        return ",".join(
            f"{settings.host}:{config.node_ports(settings, node)[0]}"
            for node in range(1, self.nodes() + 1)
        )

    def client_settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap_servers)

    def nodes(self) -> int:
        """The node count the cluster was formatted with (``settings.nodes`` before that)."""
        meta = self._read_meta()
        count = meta.get("nodes")
        return count if isinstance(count, int) else self.settings.nodes

    def node(self, node_id: int) -> ClusterNode:
        """Node ``node_id`` (1-based); BrokerError for a node the cluster does not have."""
        nodes = self.nodes()
        if not 1 <= node_id <= nodes:
            raise BrokerError(f"the cluster has nodes 1..{nodes}, not {node_id}")
        cluster_id = self._read_meta().get("cluster_id")
        if not isinstance(cluster_id, str):
            raise BrokerError(
                f"no cluster in {self.settings.data_dir}: start it with "
                f"`nurture broker start --nodes {nodes}` first"
            )
        return ClusterNode(self._formatted_settings(), node_id, cluster_id, self.cache)

    def all_nodes(self) -> list[ClusterNode]:
        return [self.node(node_id) for node_id in range(1, self.nodes() + 1)]

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> tuple[list[NodeStatus], bool]:
        """Start every node that is not running and wait until each answers, and the cluster
        as a whole; returns the statuses and whether anything was started.

        Raises BrokerError (with the failing node's log tail) when a node does not come up;
        the nodes this call started are stopped again then.
        """
        self._ensure_meta()
        launched = []
        try:
            for node in self.all_nodes():
                if node.status().running:
                    continue
                launched.append((node, node.launch()))
            for node, process in launched:
                node.await_ready(process)
            self._await_cluster()
        except BrokerError:
            for node, _ in launched:
                node.stop()
            raise
        return self.status(), bool(launched)

    def stop(self) -> bool:
        """Stop every node (controlled shutdown, all at once: a node stopping alone would wait
        for a quorum its peers already left). False when none was running."""
        nodes = [node for node in self._known_nodes() if node.status().running]
        for node in nodes:
            node.signal_stop()
        for node in nodes:
            node.stop()
        return bool(nodes)

    def kill(self, node_id: int) -> bool:
        """SIGKILL one node (a broker crash); False when it was not running."""
        return self.node(node_id).kill()

    def restart(self, node_id: int) -> BrokerStatus:
        """Stop node ``node_id`` cleanly when it runs, start it again and wait until it answers
        (a killed node comes back from its own data dir and catches up from its peers)."""
        node = self.node(node_id)
        node.stop()
        status, _ = node.start()
        return status

    def status(self) -> list[NodeStatus]:
        return [NodeStatus(node.node_id, node.status()) for node in self._known_nodes()]

    def log_tail(self, node_id: int | None = None, lines: int = 40) -> str:
        nodes = self._known_nodes() if node_id is None else [self.node(node_id)]
        return "\n".join(f"=== node {node.node_id}\n{node.log_tail(lines)}" for node in nodes)

    # -- internals ----------------------------------------------------------------------------

    def _known_nodes(self) -> list[ClusterNode]:
        return self.all_nodes() if self.meta_file.exists() else []

    def _formatted_settings(self) -> BrokerSettings:
        """The settings with what the first start fixed (node count, host and ports): the other
        commands need not repeat --port."""
        meta = self._read_meta()
        fixed = {key: meta[key] for key in ("nodes", *_FIXED) if key in meta}
        return self.settings.model_copy(update=fixed)

    def _read_meta(self) -> dict[str, object]:
        try:
            loaded = json.loads(self.meta_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _ensure_meta(self) -> None:
        """The cluster id and node count, made at the first start and kept: a data dir
        formatted for three voters cannot run as another count."""
        meta = self._read_meta()
        if meta:
            if self.settings.nodes > 1 and meta.get("nodes") != self.settings.nodes:
                raise BrokerError(
                    f"{self.settings.data_dir} holds a {meta.get('nodes')}-node cluster; start "
                    f"it with --nodes {meta.get('nodes')}, or use another --data-dir"
                )
            if "port" in self.settings.model_fields_set and meta.get("port") != self.settings.port:
                raise BrokerError(
                    f"{self.settings.data_dir} holds a cluster listening from port "
                    f"{meta.get('port')}; start it without --port (or with --port "
                    f"{meta.get('port')}), or use another --data-dir for port {self.settings.port}"
                )
            return
        jars.require_java()
        libs = jars.ensure_jars(self.cache.cache, quiet=True)
        cluster_id = new_cluster_id(libs)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        fixed = {key: getattr(self.settings, key) for key in _FIXED}
        self.meta_file.write_text(
            json.dumps({"cluster_id": cluster_id, "nodes": self.settings.nodes, **fixed})
        )

    def _await_cluster(self) -> None:
        """Until the whole bootstrap list answers with every node registered as a broker."""
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if answers_metadata(self.client_settings()) and self.brokers_up() == self.nodes():
                return
            time.sleep(0.3)
        raise BrokerError(
            f"the cluster did not register all {self.nodes()} brokers within "
            f"{self.settings.start_timeout_s:.0f}s:\n{self.log_tail(lines=15)}"
        )

    def brokers_up(self) -> int:
        """How many brokers the cluster's metadata lists now."""
        from schemas.kafka_seam.topic_admin import admin_client  # noqa: PLC0415 - kafka-python loads slowly

        with admin_client(self.client_settings()) as admin:
            return len(admin.describe_cluster()["brokers"])
