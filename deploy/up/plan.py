"""Which processes `nurture up` runs (a pure function of the options)."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

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


def ensure_local_gateway_keys(state_dir: Path) -> Path:
    """A file of API keys for the local gateway, made once with random keys (mode 0600).

    Used only when neither ``NURTURE_GATEWAY_API_KEYS`` nor ``NURTURE_GATEWAY_API_KEYS_FILE`` is
    set, so a local `nurture up` accepts events from the usual sources without setup.
    """
    path = state_dir / "gateway-api-keys"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{source}={secrets.token_urlsafe(24)}" for source in LOCAL_SOURCES]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# API keys of the local gateway (nurture up); source=KEY per line\n")
            out.write("\n".join(lines) + "\n")
    return path


#: Source systems the local gateway accepts out of the box.
LOCAL_SOURCES = ("career-site", "ats", "esp", "events-platform", "crm", "simulator")


def gateway_env(state_dir: Path) -> dict[str, str]:
    """Gateway settings for `nurture up`: the user's keys if configured, else local ones."""
    if os.environ.get("NURTURE_GATEWAY_API_KEYS") or os.environ.get(
        "NURTURE_GATEWAY_API_KEYS_FILE"
    ):
        return {}
    return {"NURTURE_GATEWAY_API_KEYS_FILE": str(ensure_local_gateway_keys(state_dir))}


def pipeline_children(
    settings: KafkaSettings, options: UpOptions, state_dir: Path
) -> list[ChildSpec]:
    """The children in start order: processors first, then the inputs that feed them.

    ``state_dir`` holds local state of `nurture up` (worker stores, generated gateway keys).
    """
    env = child_env(settings)
    children = [
        ChildSpec(
            "worker",
            [*NURTURE, "worker", "--web-port", str(options.worker_web_port)],
            {**env, "NURTURE_WORKER_DATA_DIR": str(state_dir / "worker")},
        ),
        ChildSpec(
            "gateway",
            [*NURTURE, "gateway", "--port", str(options.gateway_port)],
            {**env, **gateway_env(state_dir)},
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
