"""Validation of ``deploy/docker-compose.yml`` against the Compose specification, offline.

No Docker engine (nor the compose plugin) runs where the checks run, so the file is checked
against the JSON schema of the Compose specification as compose-go (the loader of
``docker compose``) ships it. That catches misspelt keys and wrong shapes, not whether the
images build or the services start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
#: compose-go v2.16 is the last release that builds with the Go 1.26.8 of these machines.
COMPOSE_SPEC = ("github.com/compose-spec/compose-go/v2", "v2.16.2")


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as data (YAML anchors and merge keys resolved, variables not)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return data


def compose_problems(spec_dir: Path, path: Path = COMPOSE_FILE) -> list[str]:
    """What in ``path`` breaks the Compose specification (empty: valid)."""
    schema = yaml.safe_load((spec_dir / "schema" / "compose-spec.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(str(part) for part in error.path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(load_compose(path)), key=lambda e: list(e.path))
    ]
