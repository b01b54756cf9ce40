"""Fetch the Kafka broker's jars once and reuse them.

The source of truth for versions is ``deploy/local/pom.xml``. Maven copies the broker, the
command-line tools and a log4j2 binding into ``<cache>/<kafka version>/libs``. Without Maven,
the official Apache Kafka release archive is the fallback source (needs the internet).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from importlib import resources
from pathlib import Path

from schemas.errors import BrokerError

MIN_JAVA = 17
_ARCHIVE_URL = "https://archive.apache.org/dist/kafka/{v}/kafka_2.13-{v}.tgz"


def pom_path() -> Path:
    """The pom.xml shipped with the package (declares the Kafka version)."""
    return Path(str(resources.files("deploy") / "local" / "pom.xml"))


def kafka_version(pom: Path | None = None) -> str:
    """The Kafka version declared in the pom (``<kafka.version>``)."""
    text = (pom or pom_path()).read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", text)
    if not match:
        raise BrokerError(f"no <kafka.version> in {pom or pom_path()}")
    return match.group(1).strip()


def java_major_version(java: str = "java") -> int:
    """The major version of the ``java`` on PATH; raises BrokerError when there is none."""
    exe = shutil.which(java)
    if exe is None:
        raise BrokerError(
            f"Java {MIN_JAVA}+ is required to run the local Kafka broker, but `java` is not on "
            "PATH. Install a JDK/JRE 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`)."
        )
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise BrokerError(f"cannot read the Java version from: {out.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> int:
    """Fail with a clear message unless Java 17+ is available."""
    major = java_major_version()
    if major < MIN_JAVA:
        raise BrokerError(
            f"Kafka 4.x needs Java {MIN_JAVA}+, found Java {major}. Install a newer JDK and "
            "put it first on PATH."
        )
    return major


def libs_dir(cache: Path, version: str) -> Path:
    return cache / version / "libs"


def _has_broker_jar(libs: Path, version: str) -> bool:
    return (libs / f"kafka_2.13-{version}.jar").is_file()


def ensure_jars(cache: Path, *, quiet: bool = False) -> Path:
    """Return the folder of broker jars, fetching them first when the cache lacks them."""
    version = kafka_version()
    libs = libs_dir(cache, version)
    if _has_broker_jar(libs, version):
        return libs
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if shutil.which("mvn"):
        try:
            _fetch_with_maven(staging, quiet=quiet)
        except BrokerError as maven_error:
            # e.g. Maven Central unreachable: the official release archive is the second source
            try:
                _fetch_release_archive(version, staging)
            except BrokerError as archive_error:
                raise BrokerError(f"{maven_error}\nFallback failed too: {archive_error}") from None
    else:
        _fetch_release_archive(version, staging)
    if not _has_broker_jar(staging, version):
        raise BrokerError(f"fetching Kafka {version} left no broker jar in {staging}")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)  # atomic: a half-filled cache is never taken for a full one
    return libs


def _fetch_with_maven(target: Path, *, quiet: bool) -> None:
    cmd = [
        "mvn",
        "-B",
        "-f",
        str(pom_path()),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={target}",
    ]
    if quiet:
        cmd.insert(1, "-q")
    result = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stdout or "")[-2000:] if quiet else ""
        raise BrokerError(
            f"Maven could not fetch the Kafka jars (exit {result.returncode}).\n{tail}"
        )


def _fetch_release_archive(version: str, target: Path) -> None:
    url = _ARCHIVE_URL.format(v=version)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "kafka.tgz"
        try:
            urllib.request.urlretrieve(url, archive)  # noqa: S310 - fixed https URL
        except OSError as exc:
            raise BrokerError(
                f"Maven is not installed and the release archive {url} could not be "
                f"downloaded: {exc}"
            ) from exc
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/libs/" in m.name and m.isfile()]
            for member in members:
                member.name = Path(member.name).name
                tar.extract(member, target, filter="data")
