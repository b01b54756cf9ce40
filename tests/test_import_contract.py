"""Imports follow the data (issue #17, item 2): the contracts in ``.importlinter`` hold.

``lint-imports`` (import-linter) checks them; the second test shows that they bite, on a copy of
the packages with one wrong-way import added (a producer importing a consumer module).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
PACKAGES = ("schemas", "producers", "streams", "consumers", "deploy")
#: The venv's import-linter (a dev dependency), beside the interpreter running the tests.
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: install import-linter (dev)"
    return subprocess.run(
        [str(LINT_IMPORTS), str(CONFIG), "--no-logo", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    tracking = tmp_path / "producers" / "gateway" / "tracking.py"
    tracking.write_text(tracking.read_text() + "\nimport consumers.guards\n")
    # lint-imports puts its working directory first on sys.path: the copy is what it reads
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "producers is not allowed to import consumers" in result.stdout
    assert "producers.gateway.tracking -> consumers.guards" in result.stdout
