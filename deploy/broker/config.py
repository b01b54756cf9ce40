"""Configuration files of the local broker, rendered by pure functions."""

from __future__ import annotations

from pathlib import Path

from deploy.broker.settings import CLUSTER_CONTROLLER_OFFSET, BrokerSettings


def server_properties(settings: BrokerSettings, log_dir: Path) -> str:
    """``server.properties`` for a combined broker+controller single-node KRaft cluster."""
    return render_properties(broker_properties(settings, log_dir))


def render_properties(values: dict[str, str]) -> str:
    """Java ``.properties`` text: one ``key=value`` per line, newlines and backslashes escaped."""
    return "".join(f"{key}={_escape(value)}\n" for key, value in values.items())


def _escape(value: str) -> str:
    """A value on one line: Java's Properties reader turns ``\\n`` back into a newline."""
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def broker_properties(settings: BrokerSettings, log_dir: Path) -> dict[str, str]:
    """The broker's settings with a PLAINTEXT listener (secure mode overrides some).

    Topics are never auto-created: every topic comes from ``schemas/topics.py`` with its
    partitions and cleanup policy, so a typo cannot silently create a one-partition topic.
    """
    host, port, controller = settings.host, settings.port, settings.controller
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": "6",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "12",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.backoff.ms": "5000",
    }
    return lines


def cluster_replication(nodes: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) on a cluster of ``nodes`` brokers: three copies
    at most, and one copy may be down while acks=all producers still write."""
    replication = min(3, nodes)
    return replication, max(1, replication - 1)


def node_properties(
    settings: BrokerSettings, node_id: int, nodes: int, log_dir: Path
) -> dict[str, str]:
    """One node of a KRaft cluster on this host: every node is broker and controller (a quorum
    of ``nodes`` voters), with its own ports (:func:`node_ports`) and log dir; the internal
    topics and the default topic settings replicated as :func:`cluster_replication` says."""
    host = settings.host
    port, controller = node_ports(settings, node_id)
    voters = ",".join(
        f"{other}@{host}:{node_ports(settings, other)[1]}" for other in range(1, nodes + 1)
    )
    replication, min_isr = cluster_replication(nodes)
    lines = broker_properties(settings, log_dir)
    lines.update(
        {
            "node.id": str(node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "offsets.topic.replication.factor": str(replication),
            "transaction.state.log.replication.factor": str(replication),
            "transaction.state.log.min.isr": str(min_isr),
            "share.coordinator.state.topic.replication.factor": str(replication),
            "share.coordinator.state.topic.min.isr": str(min_isr),
            "default.replication.factor": str(replication),
            "min.insync.replicas": str(min_isr),
            # A broker back from a crash takes its partitions' leadership back once in sync.
            "auto.leader.rebalance.enable": "true",
            "leader.imbalance.check.interval.seconds": "30",
        }
    )
    return lines


def node_ports(settings: BrokerSettings, node_id: int) -> tuple[int, int]:
    """(listener, controller) ports of cluster node ``node_id`` (1-based): listeners on BASE,
    BASE+1, ...; controllers on the controller base (BASE+100 unless set), +1, ..."""
    controller_base = settings.controller_port or settings.port + CLUSTER_CONTROLLER_OFFSET
    return settings.port + node_id - 1, controller_base + node_id - 1


def log4j2_properties(log_file: Path) -> str:
    """A log4j2 config that writes the broker's log to one rolling file."""
    return f"""status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.controller.name = kafka.controller
logger.controller.level = WARN
logger.coordinator.name = org.apache.kafka.coordinator
logger.coordinator.level = WARN
"""
