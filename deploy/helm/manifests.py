"""Validation of rendered manifests against published schemas, without a cluster.

Core kinds are checked by ``kubernetes-validate`` in strict mode (unknown fields are errors)
against the OpenAPI schemas it bundles for each Kubernetes version. ServiceMonitor and
PrometheusRule are not core kinds: their schema is the ``openAPIV3Schema`` of the
prometheus-operator CRDs, read from the operator's Go module, made strict the same way, and
their ``metadata`` is checked as Kubernetes ``ObjectMeta``. A kind with no schema is an error,
never a warning: nothing rendered goes unchecked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml
from kubernetes_validate import utils as kubernetes_schemas  # type: ignore[import-untyped]

from deploy.helm.render import Manifest

#: Kubernetes versions every render is validated against: the oldest the chart declares
#: (Chart.yaml kubeVersion) and the newest kubernetes-validate 1.37 bundles (helm 4.3's own).
KUBERNETES_VERSIONS = ("1.30", "1.37")
#: The Go module whose example/ folder holds the CRDs the operator installs.
PROMETHEUS_OPERATOR = ("github.com/prometheus-operator/prometheus-operator", "v0.85.0")
CRD_FILES = (
    "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
)


@dataclass(frozen=True)
class Problem:
    """Why one manifest is invalid."""

    manifest: str  # kind/name
    message: str

    def __str__(self) -> str:
        return f"{self.manifest}: {self.message}"


def strict(schema: Any) -> Any:
    """A copy of an OpenAPI v3 schema where objects with declared properties refuse others.

    The API server prunes unknown fields of a custom resource silently; refusing them here makes
    a misspelt field fail the check instead of vanishing in the cluster. Schemas that keep
    unknown fields (``x-kubernetes-preserve-unknown-fields``) or type them
    (``additionalProperties``) are left as they are.
    """
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in copy
        and "additionalProperties" not in copy
        and not copy.get("x-kubernetes-preserve-unknown-fields")
    ):
        copy["additionalProperties"] = False
    return copy


def load_crd_schemas(crd_dir: Path) -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> strict JSON schema, for every served version of the CRD files."""
    schemas: dict[tuple[str, str], Any] = {}
    for name in CRD_FILES:
        crd = yaml.safe_load((crd_dir / name).read_text(encoding="utf-8"))
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                api_version = f"{spec['group']}/{version['name']}"
                schemas[(api_version, spec["names"]["kind"])] = strict(
                    version["schema"]["openAPIV3Schema"]
                )
    return schemas


def name_of(manifest: Manifest) -> str:
    metadata = manifest.get("metadata") or {}
    return f"{manifest.get('kind', '?')}/{metadata.get('name', '?')}"


def _core_problems(manifest: Manifest, kubernetes_version: str) -> Iterator[str]:
    try:
        kubernetes_schemas.validate(manifest, kubernetes_version, strict=True)
    except kubernetes_schemas.ValidationError as error:
        path = ".".join(str(part) for part in error.path) or "(top)"
        yield f"{path}: {error.message} (Kubernetes {error.version} schema)"
    except kubernetes_schemas.SchemaNotFoundError as error:
        yield error.message


def _crd_problems(manifest: Manifest, schema: Any, kubernetes_version: str) -> Iterator[str]:
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.path)):
        path = ".".join(str(part) for part in error.path) or "(top)"
        yield f"{path}: {error.message} (CRD schema)"
    # The CRD schema leaves metadata open; the API server checks it as any object's metadata.
    # Validating it inside a ConfigMap applies the bundled ObjectMeta schema to it, strictly.
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": manifest.get("metadata")}
    for problem in _core_problems(carrier, kubernetes_version):
        yield f"metadata of a custom resource: {problem}"


def problems(
    manifest: Manifest,
    kubernetes_version: str,
    crd_schemas: Mapping[tuple[str, str], Any],
) -> list[Problem]:
    """Everything wrong with one manifest (empty: valid)."""
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    if key in crd_schemas:
        found = _crd_problems(manifest, crd_schemas[key], kubernetes_version)
    else:
        found = _core_problems(manifest, kubernetes_version)
    return [Problem(name_of(manifest), message) for message in found]


def is_custom(manifest: Manifest, crd_schemas: Mapping[tuple[str, str], Any]) -> bool:
    """Whether ``manifest`` was checked against a CRD schema rather than a core one."""
    return (str(manifest.get("apiVersion")), str(manifest.get("kind"))) in crd_schemas
