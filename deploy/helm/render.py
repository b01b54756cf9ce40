"""``helm lint`` and ``helm template`` of the chart, as parsed manifests."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

HELM_DIR = Path(__file__).resolve().parent
CHART_DIR = HELM_DIR / "candidate-nurture"
#: The production-shaped values `make deploy-check` renders besides the defaults.
SASL_SSL_VALUES = HELM_DIR / "ci" / "sasl-ssl.values.yaml"
#: The API group of ServiceMonitor and PrometheusRule, which helm only sees in a cluster that
#: serves it; the checks declare it so `monitoring.prometheusOperator: auto` renders them.
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
#: Release name and namespace of every check render.
RELEASE = "nurture"
NAMESPACE = "nurture"

Manifest = dict[str, Any]


class RenderError(Exception):
    """helm refused the chart or the values; ``stderr`` is helm's own explanation."""

    def __init__(self, command: str, stderr: str) -> None:
        super().__init__(f"helm {command} failed:\n{stderr}")
        self.stderr = stderr


def _helm_stderr(text: str) -> str:
    # helm notes every symbolic link it follows; the chart's links are intended (files/).
    return "\n".join(line for line in text.splitlines() if "found symbolic link" not in line)


def _value_args(
    values_files: Sequence[Path], set_values: Mapping[str, str | int | bool] | None
) -> list[str]:
    args = [arg for path in values_files for arg in ("--values", str(path))]
    for key, value in (set_values or {}).items():
        if isinstance(value, str):
            args += ["--set-string", f"{key}={value}"]
        else:  # helm reads only lower-case true/false as booleans
            args += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    return args


def lint(helm: Path, values_files: Sequence[Path] = ()) -> None:
    """``helm lint --strict`` with these values; :class:`RenderError` on any warning."""
    result = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART_DIR), *_value_args(values_files, None)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError("lint", _helm_stderr(result.stdout + result.stderr))


def render(
    helm: Path,
    values_files: Sequence[Path] = (),
    set_values: Mapping[str, str | int | bool] | None = None,
    *,
    kube_version: str = "1.37",
    api_versions: Sequence[str] = (PROMETHEUS_OPERATOR_API,),
) -> list[Manifest]:
    """Every manifest ``helm template`` renders (hooks included), parsed, in helm's order.

    ``set_values`` strings are passed with ``--set-string``, other values with ``--set``.
    """
    command = [
        str(helm),
        "template",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version,
        *(arg for api in api_versions for arg in ("--api-versions", api)),
        *_value_args(values_files, set_values),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RenderError("template", _helm_stderr(result.stderr))
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
