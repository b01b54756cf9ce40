"""``make deploy-check``: render the chart and validate everything it renders, offline.

For the default values and the SASL_SSL values file: ``helm lint --strict``, then for each
Kubernetes version of :data:`~deploy.helm.manifests.KUBERNETES_VERSIONS` a ``helm template``
whose every manifest must pass its schema. Then ``deploy/docker-compose.yml`` against the
Compose specification. Exit 0 when all pass, 1 on any problem, 2 when a tool is missing.
(The Makefile target also runs hadolint on the Dockerfile.)
"""

from __future__ import annotations

import sys
from pathlib import Path

from deploy.helm.compose_file import COMPOSE_FILE, COMPOSE_SPEC, compose_problems
from deploy.helm.manifests import (
    KUBERNETES_VERSIONS,
    PROMETHEUS_OPERATOR,
    is_custom,
    load_crd_schemas,
    problems,
)
from deploy.helm.render import SASL_SSL_VALUES, RenderError, lint, render
from deploy.helm.tools import ToolError, go_module_dir, helm_binary

VALUES_SETS: dict[str, tuple[Path, ...]] = {
    "default values": (),
    "SASL_SSL values": (SASL_SSL_VALUES,),
}


def check_chart(helm: Path, crd_dir: Path) -> bool:
    """Lint, render and validate every values set; print one line per render. True: all valid."""
    crds = load_crd_schemas(crd_dir)
    operator = f"prometheus-operator {PROMETHEUS_OPERATOR[1]}"
    valid = True
    for label, files in VALUES_SETS.items():
        try:
            lint(helm, files)
            for version in KUBERNETES_VERSIONS:
                manifests = render(helm, files, kube_version=version)
                invalid = 0
                for manifest in manifests:
                    found = problems(manifest, version, crds)
                    invalid += bool(found)
                    for problem in found:
                        print(f"FAIL {label}, Kubernetes {version}: {problem}")
                custom = sum(is_custom(m, crds) for m in manifests)
                valid = valid and not invalid
                print(
                    f"{'ok  ' if not invalid else 'FAIL'} {label}, Kubernetes {version}: "
                    f"{len(manifests)} manifests rendered, {len(manifests) - invalid} valid "
                    f"({len(manifests) - custom} core, {custom} against the {operator} CRDs)"
                )
        except RenderError as error:
            print(f"FAIL {label}: {error}")
            valid = False
    return valid


def check_compose(spec_dir: Path) -> bool:
    """Validate the compose file; print the result. True: valid."""
    found = compose_problems(spec_dir)
    for problem in found:
        print(f"FAIL {COMPOSE_FILE.name}: {problem}")
    spec = f"compose-go {COMPOSE_SPEC[1]}"
    print(f"{'ok  ' if not found else 'FAIL'} {COMPOSE_FILE.name}: Compose specification ({spec})")
    return not found


def main() -> int:
    try:
        helm = helm_binary()
        crd_dir = go_module_dir(*PROMETHEUS_OPERATOR) / "example" / "prometheus-operator-crd"
        spec_dir = go_module_dir(*COMPOSE_SPEC)
    except ToolError as error:
        print(f"deploy-check: {error}", file=sys.stderr)
        return 2
    chart_valid = check_chart(helm, crd_dir)
    compose_valid = check_compose(spec_dir)
    return 0 if chart_valid and compose_valid else 1


if __name__ == "__main__":
    sys.exit(main())
