"""Build one environment image per set of dependency declarations.

The image is the sandbox base plus the wheels a repository declares, tagged
``agentos-env:<12 hex>`` after a hash of its inputs: the requirements and
constraints, the base image's id and its Python version. A second build with
the same inputs finds the tag and builds nothing.

The wheels are resolved and downloaded on the host with ``pip download``,
which honours the user's pip configuration, proxy and CA, then installed in a
container without network with ``pip install --no-index``. A repository that
declares nothing runs in the base image as it is, unless the base lacks
pytest (an official ``python`` image), which is then installed the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from sandbox.declarations import Declarations, python_allowed
from sandbox.docker_backend import HOST_LABEL, PID_LABEL, SANDBOX_LABEL
from sandbox.errors import EnvironmentBuildError, ResolutionFailed

logger = logging.getLogger(__name__)

ENV_REPOSITORY = "agentos-env"
OFFLINE_BASE = "agentos-sandbox:latest"
ROLE_LABEL = "org.llmagentos.role"  # "base" on the offline base, "env" on environment images
INPUTS_LABEL = "org.llmagentos.inputs"
REPO_LABEL = "org.llmagentos.repo"  # the repository of the build that created the image
PYTHON_LABEL = "org.llmagentos.python"
BASE_LABEL = "org.llmagentos.base"
INPUTS_FORMAT = 1  # raise when the hashed inputs change meaning, so old tags miss
BUILD_TIMEOUT = 600.0  # seconds for pip install inside the build container
WHEELS = "/tmp/agentos-wheels"

# Runs in the build container: install the wheels, then delete them, so the
# committed layer contains the installed packages only.
_INSTALL = f"""\
import shutil, subprocess, sys
command = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", "{WHEELS}",
           "--disable-pip-version-check", "--no-warn-script-location",
           "-r", "{WHEELS}/requirements.txt", "-c", "{WHEELS}/constraints.txt"]
code = subprocess.call(command)
shutil.rmtree("{WHEELS}", ignore_errors=True)
sys.exit(code)
"""
_PROBE = (
    "import importlib.util, platform; "
    "print(platform.python_version(), importlib.util.find_spec('pytest') is not None)"
)


@dataclass(frozen=True)
class Base:
    """The image an environment image starts from."""

    name: str
    image_id: str
    python: str  # full version, such as "3.11.2"
    has_pytest: bool


@dataclass(frozen=True)
class EnvImage:
    """The image a repository's tests run in."""

    tag: str  # the environment image, or the base image's name when nothing was installed
    base: Base
    inputs: str | None  # hash of the inputs; None when the base is used as it is
    built: bool  # whether this call built it (False on a cache hit)
    size: int  # bytes


def resolve_base(
    client: docker.DockerClient,
    setting: str,
    *,
    pull: bool = False,
    requires_python: str | None = None,
) -> str:
    """Return the base image name for the ``image`` setting.

    "auto" picks the newest official ``python:X.Y-slim`` image already in the
    local image store whose X.Y ``requires_python`` allows, and otherwise the
    offline base; it never pulls. With ``pull`` set, "auto" pulls
    ``python:X.Y-slim`` for the Python running this process first, which
    needs a reachable registry.
    """
    if setting != "auto":
        return setting
    if pull:
        name = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
        logger.info("pulling base image %s", name)
        try:
            client.images.pull(name)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise EnvironmentBuildError(
                f"failed to pull {name}: {error}; check the registry settings of the "
                f"Docker daemon, or build without --pull to use {OFFLINE_BASE}."
            ) from error
        return name
    # NOTE: X.Y is checked as X.Y.999, standing for the newest patch release a
    # slim image may carry. So a pin to an older patch release can pick an image
    # whose Python it excludes, and the build then names both versions.
    official = [
        tag
        for tag in _local_official_images(client)
        if python_allowed(requires_python, tag.split(":")[1].removesuffix("-slim") + ".999")
    ]
    return official[0] if official else OFFLINE_BASE


def probe_base(client: docker.DockerClient, name: str) -> Base:
    """Return the id, Python version and pytest presence of image ``name``."""
    try:
        image = client.images.get(name)
        output = client.containers.run(
            name,
            ["python3", "-c", _PROBE],
            remove=True,
            network_disabled=True,
            network_mode="none",
            labels=_container_labels(),
        )
    except docker.errors.ImageNotFound as error:
        raise EnvironmentBuildError(
            f"base image {name} not found; build the offline base with "
            "sandbox/image/build-base.sh or set the image setting to an existing image."
        ) from error
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        message = f"failed to start Python in base image {name}: {error}"
        raise EnvironmentBuildError(message) from error
    fields = output.decode("utf-8", errors="replace").split()[-2:]
    if len(fields) != 2:
        raise EnvironmentBuildError(
            f"base image {name} printed {output[-200:]!r} instead of its Python version; "
            "use a base image whose python3 runs without extra output."
        )
    return Base(name, image.id, fields[0], fields[1] == "True")


def inputs_hash(declarations: Declarations, base: Base, extra: tuple[str, ...] = ()) -> str:
    """Return the hash that names the environment image of these inputs."""
    document = {
        "format": INPUTS_FORMAT,
        "requirements": sorted(d.requirement for d in declarations.requirements) + list(extra),
        "constraints": sorted(d.requirement for d in declarations.constraints),
        "base": base.image_id,
        "python": base.python,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def ensure_env_image(
    client: docker.DockerClient,
    root: Path,
    declarations: Declarations,
    base: Base,
    *,
    rebuild: bool = False,
    labels: dict[str, str] | None = None,
    announce: Callable[[str], None] | None = None,
) -> EnvImage:
    """Return the environment image for ``declarations``, building it when it is missing.

    ``labels`` are added to the image, for callers that select their images by
    label later. ``announce`` is called with a message when a build starts,
    because resolving and installing wheels can take a minute.
    Raises EnvironmentBuildError when the base's Python is excluded by
    requires-python or the build fails, and ResolutionFailed when pip
    cannot resolve a requirement.
    """
    if not python_allowed(declarations.requires_python, base.python):
        raise EnvironmentBuildError(
            f"the project requires Python {declarations.requires_python} but base image "
            f"{base.name} has Python {base.python}; set the image setting to a base "
            "with a matching Python (for example python:X.Y-slim)."
        )
    extra = () if base.has_pytest else ("pytest",)
    if not declarations.requirements and not extra:
        return EnvImage(base.name, base, None, False, _size(client, base.name))

    inputs = inputs_hash(declarations, base, extra)
    tag = f"{ENV_REPOSITORY}:{inputs[:12]}"
    if not rebuild and _has_image(client, tag, inputs):
        logger.info("environment image %s is up to date", tag)
        return EnvImage(tag, base, inputs, False, _size(client, tag))

    if announce is not None:
        count = len(declarations.requirements) + len(extra)
        announce(f"building environment image {tag} ({count} requirement(s), Python {base.python})")
    with tempfile.TemporaryDirectory(prefix="agentos-wheels-") as folder:
        wheels = Path(folder)
        write_lists(wheels, declarations, extra)
        download_wheels(wheels, base.python, declarations)
        image_labels = {
            **(labels or {}),
            ROLE_LABEL: "env",
            INPUTS_LABEL: inputs,
            REPO_LABEL: str(root.resolve()),
            PYTHON_LABEL: base.python,
            BASE_LABEL: base.name,
        }
        _install(client, base, wheels, tag, image_labels)
    return EnvImage(tag, base, inputs, True, _size(client, tag))


def download_wheels(folder: Path, python: str, declarations: Declarations) -> None:
    """Resolve the lists in ``folder`` with pip on the host and download the wheels there."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--dest",
        str(folder),
        "-r",
        str(folder / "requirements.txt"),
        "-c",
        str(folder / "constraints.txt"),
    ]
    logger.info("resolving wheels for Python %s on the host", python)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    logger.debug("pip download output:\n%s%s", done.stdout, done.stderr)
    if done.returncode != 0:
        raise resolution_error(done.stdout + done.stderr, python, declarations)


def resolution_error(output: str, python: str, declarations: Declarations) -> ResolutionFailed:
    """Translate the output of a failed ``pip download`` into an error naming the requirement."""
    patterns = (
        r"No matching distribution found for (\S+)",
        r"Could not find a version that satisfies the requirement (\S+)",
        r"Package '([^']+)' requires a different Python",
    )
    requirement = None
    for pattern in patterns:
        match = re.search(pattern, output)
        if match:
            requirement = match.group(1)
            break

    last_error = [line for line in output.splitlines() if line.startswith("ERROR:")][-1:]
    if requirement is not None:
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        source = declarations.source_of(name)
        where = f" (declared in {source})" if source else " (needed by another requirement)"
        message = (
            f"pip found no wheel of {requirement} for Python {python}{where}. "
            "Environment images install wheels only; check the name and version, pin a "
            "version that publishes a wheel for this Python, or check the index settings "
            "with 'pip config list'."
        )
    elif "No module named pip" in output:
        message = (
            f"pip is not installed for {sys.executable}, which resolves the wheels; "
            f"install it with '{sys.executable} -m ensurepip'."
        )
    elif "ResolutionImpossible" in output or "conflicting dependencies" in output:
        conflict = _conflict_lines(output)
        message = (
            f"the declared requirements conflict with each other: {conflict}. "
            "Relax or align the versions in the declarations."
        )
    else:
        detail = last_error[0] if last_error else output.strip()[-300:]
        message = (
            f"pip download failed: {detail}. Check the network, proxy and index settings "
            "(pip config list), then run 'agentos sandbox build' again."
        )
    return ResolutionFailed(message, requirement, output)


def list_env_images(client: docker.DockerClient, labels: dict[str, str] | None = None) -> list:
    """Return the environment images, optionally only those carrying ``labels``."""
    filters = [f"{ROLE_LABEL}=env", *(f"{key}={value}" for key, value in (labels or {}).items())]
    return client.images.list(filters={"label": filters})


def _local_official_images(client: docker.DockerClient) -> list[str]:
    """Return the local ``python:X.Y-slim`` images, newest Python first."""
    found: list[tuple[tuple[int, int], str]] = []
    for image in client.images.list(name="python"):
        for tag in image.tags:
            match = re.fullmatch(r"python:(\d+)\.(\d+)-slim", tag)
            if match:
                found.append(((int(match.group(1)), int(match.group(2))), tag))
    return [tag for _, tag in sorted(found, reverse=True)]


def write_lists(folder: Path, declarations: Declarations, extra: tuple[str, ...]) -> None:
    """Write requirements.txt and constraints.txt, which pip reads, into ``folder``."""
    lines = [declared.requirement for declared in declarations.requirements] + list(extra)
    (folder / "requirements.txt").write_text("\n".join(lines) + "\n")
    constraints = [declared.requirement for declared in declarations.constraints]
    (folder / "constraints.txt").write_text("".join(f"{line}\n" for line in constraints))


def _install(
    client: docker.DockerClient, base: Base, wheels: Path, tag: str, labels: dict[str, str]
) -> None:
    """Install the wheels of ``wheels`` in a container of ``base`` and commit it as ``tag``."""
    base_config = client.images.get(base.name).attrs.get("Config") or {}
    container = None
    try:
        container = client.containers.create(
            base.name,
            ["python3", "-c", _INSTALL],
            user="0:0",
            network_disabled=True,
            network_mode="none",
            # Debian marks its Python as externally managed; this image is ours to change.
            environment={"PIP_BREAK_SYSTEM_PACKAGES": "1", "HOME": "/tmp"},
            labels=_container_labels(),
        )
        container.put_archive("/tmp", _tar_folder(wheels, WHEELS.rsplit("/", 1)[1]))
        logger.info("installing %s wheels into %s", base.name, tag)
        container.start()
        code = container.wait(timeout=BUILD_TIMEOUT)["StatusCode"]
        if code != 0:
            log = container.logs().decode("utf-8", errors="replace")
            raise EnvironmentBuildError(
                f"pip install failed in a container of {base.name} (exit code {code}):\n"
                f"{log[-2000:]}\nCheck that the wheels suit this base image."
            )
        changes = [f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
        changes.append(f"USER {base_config.get('User') or '0'}")
        changes.append(f"CMD {json.dumps(base_config.get('Cmd') or ['python3'])}")
        repository, name = tag.split(":")
        container.commit(repository=repository, tag=name, changes=changes)
        logger.info("built environment image %s", tag)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise EnvironmentBuildError(f"failed to build environment image {tag}: {error}") from error
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                logger.warning("failed to remove build container %s", container.short_id)


def _tar_folder(folder: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname=name)
    return buffer.getvalue()


def _container_labels() -> dict[str, str]:
    """Label short-lived containers so that a sweep finds them if this process dies."""
    return {SANDBOX_LABEL: "1", PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname()}


def _has_image(client: docker.DockerClient, tag: str, inputs: str) -> bool:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(INPUTS_LABEL) == inputs


def _size(client: docker.DockerClient, name: str) -> int:
    return int(client.images.get(name).attrs.get("Size", 0))


def _conflict_lines(output: str) -> str:
    """Return pip's list of the requirements in conflict, joined into one line."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "The conflict is caused by" in line:
            causes = []
            for cause in lines[index + 1 :]:
                if not cause.strip() or cause.strip().startswith("To fix"):
                    break
                causes.append(cause.strip())
            return "; ".join(causes)
    return "pip reported ResolutionImpossible"
