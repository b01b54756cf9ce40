"""The declared dependencies are the tested ones (issue #16, item 4).

``pyproject.toml`` declares ranges; ``requirements-dev.lock`` pins the versions the venv (``make``)
and CI install and test; ``requirements.lock`` is its runtime part, which the Dockerfile installs.
These tests fail when

- a third-party module is imported but its distribution is not declared: runtime code needs it in
  ``dependencies``, development code (``tests/`` and ``deploy/helm/``, the offline chart check run
  by ``make deploy-check``) may also use the ``dev`` extra;
- a locked version is outside its declared range, or a declared requirement is not locked, or the
  runtime lock disagrees with the full one;
- the installed version of a locked package is not the locked one, so a green run means the locked
  versions passed.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("schemas", "producers", "streams", "consumers", "deploy", "tests")
#: Code that only development runs: it may import what the ``dev`` extra declares.
DEV_ONLY = ("tests", "deploy/helm")
LOCKED_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


@dataclass(frozen=True)
class Import:
    """One absolute import of a module outside the standard library and this project."""

    path: Path  # relative to the repository root
    line: int
    module: str  # the top-level name, e.g. ``yaml`` for ``import yaml.safe``

    @property
    def dev_only(self) -> bool:
        return any(self.path.is_relative_to(folder) for folder in DEV_ONLY)


def _declared() -> tuple[list[Requirement], list[Requirement]]:
    """The ``dependencies`` and the ``dev`` extra of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(text) for text in project["dependencies"]]
    dev = [Requirement(text) for text in project["optional-dependencies"]["dev"]]
    return runtime, dev


def _locked(name: str) -> dict[NormalizedName, Version]:
    """The ``name==version`` pins of a lock file at the repository root."""
    text = (ROOT / name).read_text(encoding="utf-8")
    return {canonicalize_name(n): Version(v) for n, v in LOCKED_LINE.findall(text)}


def _python_files() -> Iterator[Path]:
    for folder in FIRST_PARTY:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _absolute_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module name) of every absolute import in a file, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _third_party_imports() -> Iterator[Import]:
    for path in _python_files():
        for line, module in _absolute_imports(path):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                continue
            yield Import(path.relative_to(ROOT), line, top)


@cache
def _distributions_of(module: str) -> frozenset[NormalizedName]:
    """The installed distributions that provide a top-level module (usually one)."""
    names = importlib.metadata.packages_distributions().get(module, [])
    return frozenset(canonicalize_name(name) for name in names)


def test_every_imported_module_is_declared() -> None:
    runtime, dev = _declared()
    runtime_names = {canonicalize_name(r.name) for r in runtime}
    dev_names = runtime_names | {canonicalize_name(r.name) for r in dev}
    problems = []
    for found in _third_party_imports():
        provided_by = _distributions_of(found.module)
        allowed = dev_names if found.dev_only else runtime_names
        where = "dependencies or the dev extra" if found.dev_only else "dependencies"
        if not provided_by:
            problems.append(f"{found.path}:{found.line}: {found.module} is not installed")
        elif not provided_by & allowed:
            problems.append(
                f"{found.path}:{found.line}: {found.module} comes from "
                f"{', '.join(sorted(provided_by))}, not declared in pyproject.toml {where}"
            )
    assert not problems, "\n".join(problems)


def test_runtime_code_does_not_import_development_code() -> None:
    """deploy/helm may use dev-only libraries, so nothing an installed `nurture` runs imports it."""
    problems = []
    for path in _python_files():
        relative = path.relative_to(ROOT)
        if any(relative.is_relative_to(folder) for folder in DEV_ONLY):
            continue
        for line, module in _absolute_imports(path):
            if module == "deploy.helm" or module.startswith("deploy.helm."):
                problems.append(f"{relative}:{line} imports {module}")
    assert not problems, "\n".join(problems)


def test_locked_versions_are_inside_the_declared_ranges() -> None:
    runtime, dev = _declared()
    locked = _locked("requirements-dev.lock")
    problems = []
    for requirement in runtime + dev:
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement} is declared but not in requirements-dev.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} is declared but requirements-dev.lock has {version}")
    assert not problems, "\n".join(problems) + "\n(`make lock` re-resolves the lock files)"


def test_the_runtime_lock_is_the_runtime_part_of_the_full_lock() -> None:
    """What the image installs (requirements.lock) is what CI tested (requirements-dev.lock)."""
    runtime, _ = _declared()
    full, image = _locked("requirements-dev.lock"), _locked("requirements.lock")
    problems = [
        f"{name}: requirements.lock has {version}, requirements-dev.lock {full.get(name)}"
        for name, version in image.items()
        if full.get(name) != version
    ]
    problems += [
        f"{r} is a runtime dependency missing from requirements.lock"
        for r in runtime
        if canonicalize_name(r.name) not in image
    ]
    assert not problems, "\n".join(problems) + "\n(`make lock` re-resolves the lock files)"


def test_the_image_installs_the_runtime_lock() -> None:
    """The Dockerfile's build stage takes the dependencies from requirements.lock, hashes checked,
    and the project without its own resolution, so the image runs the versions CI tested."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    build_stage = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1]
    assert "--require-hashes -r requirements.lock" in build_stage
    assert re.search(r"pip wheel .*--no-deps \.$", build_stage, flags=re.MULTILINE)
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "!requirements.lock" in dockerignore, "the lock must reach the build context"


def test_installed_versions_are_the_locked_ones() -> None:
    problems = []
    for name, version in sorted(_locked("requirements-dev.lock").items()):
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name}=={version} is locked but not installed")
            continue
        if installed != version:
            problems.append(f"{name}: {installed} is installed, {version} locked")
    assert not problems, "\n".join(problems) + "\n(`make .venv/.installed` installs the lock)"
