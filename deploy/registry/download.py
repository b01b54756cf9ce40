"""Fetch the Apicurio Registry release once and reuse it.

The release is Maven Central's ``io.apicurio:apicurio-registry-app:<version>:tar.gz:all``, a
ready Quarkus "fast-jar" (``quarkus-run.jar`` and its ``lib/``, about 160 MB). As for the Kafka
jars (``deploy/broker/jars.py``), Maven fetches it when installed (and keeps a copy in
``~/.m2``), and a plain HTTPS download from Maven Central is the fallback. Whichever source,
the archive must match the SHA-256 pinned here before it is unpacked into
``<cache>/<version>/``; a half-unpacked release is never taken for a whole one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from deploy.registry.errors import RegistryError

VERSION = "3.3.3"
#: Maven coordinates, as ``dependency:copy`` takes them (group:artifact:version:type:classifier).
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
#: SHA-256 of the archive (Maven Central publishes it beside the file, ``.sha256``).
SHA256 = "8bc6751c76d963734224b01d5e7f84ccb3cb61c87d3bd77c36c35f10a5cbed63"
_FILE_NAME = f"apicurio-registry-app-{VERSION}-all.tar.gz"
_CENTRAL_URL = (
    f"https://repo.maven.apache.org/maven2/io/apicurio/apicurio-registry-app/{VERSION}/{_FILE_NAME}"
)
#: What the unpacked release is started with.
RUNNER_JAR = "quarkus-run.jar"
_CHUNK_BYTES = 1 << 20


def release_dir(cache: Path) -> Path:
    """Where the release of :data:`VERSION` is unpacked in the cache."""
    return cache / VERSION


def ensure_release(cache: Path, *, quiet: bool = True) -> Path:
    """The folder of the unpacked release (``quarkus-run.jar`` inside), fetched first when the
    cache lacks it. Raises RegistryError when no source delivers the right archive."""
    target = release_dir(cache)
    if (target / RUNNER_JAR).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix="download.") as tmp:
        archive = _fetch(Path(tmp), quiet=quiet)
        staging = Path(tmp) / "release"
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        if not (staging / RUNNER_JAR).is_file():
            raise RegistryError(f"{_FILE_NAME} holds no {RUNNER_JAR}: not a Quarkus fast-jar?")
        if (target / RUNNER_JAR).is_file():
            return target  # another start fetched it meanwhile
        shutil.rmtree(target, ignore_errors=True)  # what an interrupted unpacking left
        staging.rename(target)  # atomic: the cache holds all of it or none
    return target


def _fetch(folder: Path, *, quiet: bool) -> Path:
    """The verified archive in ``folder``: from Maven when installed, else from Maven Central."""
    errors = []
    if shutil.which("mvn"):
        try:
            return _verified(_fetch_with_maven(folder, quiet=quiet))
        except RegistryError as exc:  # e.g. no access to Maven Central through Maven's settings
            errors.append(str(exc))
    try:
        return _verified(_fetch_over_https(folder))
    except RegistryError as exc:
        errors.append(str(exc))
    raise RegistryError("\n".join(errors))


def _fetch_with_maven(folder: Path, *, quiet: bool) -> Path:
    cmd = [
        "mvn",
        "-B",
        "--strict-checksums",
        "dependency:copy",
        f"-Dartifact={ARTIFACT}",
        f"-DoutputDirectory={folder}",
    ]
    if quiet:
        cmd.insert(1, "-q")
    # cwd: a pom.xml where the command runs would make Maven build that project instead
    result = subprocess.run(cmd, capture_output=quiet, text=True, check=False, cwd=folder)
    if result.returncode != 0:
        tail = (result.stdout or "")[-2000:] if quiet else ""
        raise RegistryError(
            f"Maven could not fetch {ARTIFACT} (exit {result.returncode}).\n{tail}".rstrip()
        )
    return folder / _FILE_NAME


def _fetch_over_https(folder: Path) -> Path:
    archive = folder / _FILE_NAME
    try:
        with (
            urllib.request.urlopen(_CENTRAL_URL, timeout=60) as response,
            archive.open("wb") as out,
        ):
            shutil.copyfileobj(response, out, _CHUNK_BYTES)
    except OSError as exc:
        raise RegistryError(f"could not download {_CENTRAL_URL}: {exc}") from exc
    return archive


def _verified(archive: Path) -> Path:
    digest = hashlib.sha256()
    try:
        with archive.open("rb") as data:
            while chunk := data.read(_CHUNK_BYTES):
                digest.update(chunk)
    except FileNotFoundError:
        raise RegistryError(f"the download left no {archive.name}") from None
    if digest.hexdigest() != SHA256:
        raise RegistryError(
            f"{archive.name} does not match its pinned SHA-256 ({digest.hexdigest()} instead "
            f"of {SHA256}): a corrupt or altered download, not used"
        )
    return archive
