"""The external tools of the deploy checks, found or fetched without a cluster or a container.

helm comes from ``ensure_helm.sh`` (built once from its Go module into a cache outside the
clone). Schema files that no PyPI package ships (the prometheus-operator CRDs, the Compose
specification) come from the Go modules that carry them, through ``go mod download``: the Go
module cache keeps them, so only a cold cache needs the network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HELM_SCRIPT = Path(__file__).with_name("ensure_helm.sh")


class ToolError(Exception):
    """A tool the checks need is missing or failed; the message says which and why."""


def helm_binary() -> Path:
    """The path of the pinned helm, building it on first use (progress goes to stderr)."""
    result = subprocess.run(
        [str(HELM_SCRIPT)], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise ToolError(f"{HELM_SCRIPT.name} failed (exit {result.returncode}); see its output")
    return Path(lines[-1])


def go_module_dir(module: str, version: str) -> Path:
    """The extracted source of ``module@version``, downloaded into the Go module cache if absent."""
    if shutil.which("go") is None:
        raise ToolError(f"go is needed to fetch {module}@{version} (schemas for the checks)")
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode != 0 or "Dir" not in info or "Error" in info:
        reason = info.get("Error") or result.stderr.strip() or f"exit {result.returncode}"
        raise ToolError(f"go mod download {module}@{version}: {reason}")
    return Path(info["Dir"])
