"""Find a Java 21+ runtime for the registry (Apicurio Registry 3.3 is built for Java 21).

The machine's default ``java`` may be older (the Kafka broker runs on 17), so the registry looks
further: ``NURTURE_REGISTRY_JAVA_HOME`` when set (and nothing else), else ``JAVA_HOME``, else the
newest JDK under ``/usr/lib/jvm``, else ``java`` on PATH. ``python -m deploy.registry.java``
prints the home it would use, or the reason there is none (exit 1): `.ci/run` checks with it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.registry.errors import RegistryError
from deploy.registry.settings import RegistrySettings

MIN_JAVA = 21
#: Where Debian, Ubuntu and the Adoptium packages install JDKs.
JVM_DIRS: tuple[Path, ...] = (Path("/usr/lib/jvm"),)
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', re.MULTILINE)
_INSTALL_HINT = (
    "Install a JDK 21 or newer (e.g. Eclipse Temurin 25) or set NURTURE_REGISTRY_JAVA_HOME to one"
)


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation: its home (``bin/java`` inside) and major version."""

    home: Path
    major: int

    @property
    def executable(self) -> Path:
        return self.home / "bin" / "java"


def find_java(
    configured: Path | None,
    *,
    environ: Mapping[str, str] = os.environ,
    jvm_dirs: Sequence[Path] = JVM_DIRS,
) -> JavaRuntime:
    """The Java 21+ to run the registry with; RegistryError saying what was found otherwise.

    ``configured`` (``NURTURE_REGISTRY_JAVA_HOME``) is taken or refused as it is, never replaced
    by another Java: a setting that names an unusable runtime is a mistake to report.
    """
    if configured is not None:
        return _configured(configured)
    seen: list[str] = []
    for home in _candidate_homes(environ, jvm_dirs):
        major = java_major(home)
        seen.append(f"{home} ({'Java ' + str(major) if major else 'no usable bin/java'})")
        if major is not None and major >= MIN_JAVA:
            return JavaRuntime(home, major)
    folders = ", ".join(str(folder) for folder in jvm_dirs)
    looked = "; ".join(seen) or f"no JAVA_HOME, no JDK under {folders}, no java on PATH"
    raise RegistryError(
        f"the local schema registry (Apicurio Registry 3) needs Java {MIN_JAVA}+, and none was "
        f"found. Looked at: {looked}. {_INSTALL_HINT}."
    )


def java_major(home: Path) -> int | None:
    """The major version of the Java in ``home`` (its ``release`` file, else ``java -version``);
    None when there is no runnable ``bin/java``."""
    executable = home / "bin" / "java"
    if not executable.is_file():
        return None
    try:
        found = _RELEASE_VERSION.search((home / "release").read_text(errors="replace"))
    except OSError:
        found = None
    if found is None:
        try:
            run = subprocess.run(
                [str(executable), "-version"], capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        found = _VERSION.search(run.stderr + run.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def _configured(home: Path) -> JavaRuntime:
    if not (home / "bin" / "java").is_file():
        raise RegistryError(
            f"NURTURE_REGISTRY_JAVA_HOME={home} has no bin/java: point it at a JDK or JRE "
            f"{MIN_JAVA}+ (e.g. /usr/lib/jvm/temurin-25-jdk-amd64), or unset it to search"
        )
    major = java_major(home)
    if major is None:
        raise RegistryError(f"cannot read the Java version of NURTURE_REGISTRY_JAVA_HOME={home}")
    if major < MIN_JAVA:
        raise RegistryError(
            f"NURTURE_REGISTRY_JAVA_HOME={home} is Java {major}; the local schema registry "
            f"(Apicurio Registry 3) needs Java {MIN_JAVA}+. {_INSTALL_HINT}"
        )
    return JavaRuntime(home, major)


def _candidate_homes(environ: Mapping[str, str], jvm_dirs: Sequence[Path]) -> list[Path]:
    """JAVA_HOME, the JDKs under ``jvm_dirs`` newest first, the home of ``java`` on PATH; each
    once (``/usr/lib/jvm`` has symlinks to the same JDK)."""
    homes: list[Path] = []
    if environ.get("JAVA_HOME"):
        homes.append(Path(environ["JAVA_HOME"]))
    installed = [
        home
        for folder in jvm_dirs
        if folder.is_dir()
        for home in sorted(folder.iterdir())
        if (home / "bin" / "java").is_file()
    ]
    homes += sorted(installed, key=lambda home: java_major(home) or 0, reverse=True)
    on_path = shutil.which("java", path=environ.get("PATH", os.defpath))
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    unique: dict[Path, Path] = {}
    for home in homes:
        unique.setdefault(home.resolve(), home)
    return list(unique.values())


def main() -> int:
    """Print the Java home the registry would use (exit 0), or why there is none (exit 1)."""
    try:
        runtime = find_java(RegistrySettings().java_home)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{runtime.home} (Java {runtime.major})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
