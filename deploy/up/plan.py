"""Which processes `nurture up` runs (a pure function of the options)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from deploy.up.supervisor import ChildSpec
from schemas.settings import KafkaSettings

#: How children invoke the CLI: the same interpreter and package as the supervisor.
NURTURE = (sys.executable, "-m", "deploy.cli.main")


@dataclass(frozen=True)
class UpOptions:
    demo: bool = False
    gateway_port: int = 8080
    worker_web_port: int = 6066
    demo_candidates: int = 2_000
    demo_rate: float = 50.0


def child_env(settings: KafkaSettings) -> dict[str, str]:
    """Environment that carries the global CLI flags to every child."""
    return {
        "NURTURE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "NURTURE_TOPIC_PREFIX": settings.topic_prefix,
    }


def pipeline_children(settings: KafkaSettings, options: UpOptions) -> list[ChildSpec]:
    """The children in start order: processors first, then the inputs that feed them."""
    env = child_env(settings)
    children = [
        ChildSpec(
            "worker",
            [*NURTURE, "worker", "--web-port", str(options.worker_web_port)],
            env,
        ),
        ChildSpec(
            "gateway",
            [*NURTURE, "gateway", "--port", str(options.gateway_port)],
            env,
        ),
    ]
    if options.demo:
        children.append(
            ChildSpec(
                "simulator",
                [
                    *NURTURE,
                    "simulate",
                    "--candidates",
                    str(options.demo_candidates),
                    "--rate",
                    str(options.demo_rate),
                ],
                env,
                grace_s=10.0,
            )
        )
    return children
