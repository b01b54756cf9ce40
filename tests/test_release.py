"""Release basics (issue #16, item 6): version, licence, and what the wheel carries.

Nothing is built here: the packaging check applies setuptools' own package-data rule to the
patterns in pyproject.toml (see :func:`_package_data_files`).
"""

from __future__ import annotations

import glob
import os
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
#: Folders of the deploy package that docs/observability.md runs from an installed copy too.
MONITORING = ("grafana", "prometheus")


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _package_data_files(package_dir: Path, patterns: list[str]) -> set[Path]:
    """The files setuptools puts into the wheel for these package-data patterns.

    The same rule as setuptools' ``build_py.find_data_files``: each pattern is joined to the
    package's directory, expanded with ``glob(..., recursive=True)`` and only files are kept.
    """
    found: set[Path] = set()
    for pattern in patterns:
        matches = glob.glob(os.path.join(package_dir, pattern), recursive=True)
        found.update(Path(match) for match in matches if os.path.isfile(match))
    return found


def test_version_prints_the_installed_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    installed = version("candidate-nurture")
    assert result.output == f"candidate-nurture {installed}\n"
    declared = _pyproject()["project"]["version"]
    assert installed == declared, (
        f"installed metadata says {installed}, pyproject.toml {declared}: reinstall "
        "(pip install -e '.[dev]') so that nurture --version tells the truth"
    )


def test_version_needs_no_valid_kafka_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_TOPIC_PARTITIONS", "not-a-number")
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("candidate-nurture ")


def test_the_wheel_carries_the_monitoring_files() -> None:
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["deploy"]
    shipped = _package_data_files(ROOT / "deploy", patterns)
    wanted = {
        path
        for folder in MONITORING
        for path in (ROOT / "deploy" / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert wanted, "deploy/grafana and deploy/prometheus hold no files"
    missing = sorted(str(path.relative_to(ROOT)) for path in wanted - shipped)
    assert not missing, f"not in the wheel (add a package-data pattern of 'deploy'): {missing}"
    # the files prometheus.yml names are read relative to it, so they must travel with it
    assert ROOT / "deploy/prometheus/rules/alerts.yml" in shipped


def test_the_licence_file_is_apache_2_and_declared() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
