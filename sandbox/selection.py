"""Choose the sandbox backend from a setting: "auto", "docker" or "local"."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from sandbox.backend import SandboxBackend
from sandbox.declarations import read_declarations
from sandbox.docker_backend import DockerBackend, docker_available
from sandbox.environment import (
    OFFLINE_BASE,
    ROLE_LABEL,
    ensure_env_image,
    probe_base,
    resolve_base,
)
from sandbox.errors import BackendUnavailable, EnvironmentBuildError
from sandbox.local_backend import LocalBackend

logger = logging.getLogger(__name__)

BACKEND_KINDS = ("auto", "docker", "local")
# Chooses the local backend's isolation: "auto" (bubblewrap when bwrap is
# installed), "bubblewrap" or "rlimits".
ISOLATION_VARIABLE = "AGENTOS_LOCAL_ISOLATION"


def open_backend(
    kind: str,
    image: str,
    root: Path | None = None,
    announce: Callable[[str], None] | None = None,
) -> SandboxBackend:
    """Return the backend that ``kind`` names.

    ``image`` is the Docker base image, or "auto" (see
    :func:`sandbox.environment.resolve_base`). With ``root``, the Docker
    backend runs in the environment image of that repository's declared
    dependencies, built first when it is missing or out of date; ``announce``
    is told when such a build starts.

    "docker" raises BackendUnavailable at once when no daemon responds or
    ``image`` is missing; "auto" falls back to the local backend then, with a
    warning that it is not isolated. Both raise EnvironmentBuildError when the
    environment image cannot be built, because tests without their
    dependencies would only report import errors.
    """
    if kind not in BACKEND_KINDS:
        raise ValueError(
            f"unknown sandbox backend {kind!r}; valid values are {', '.join(BACKEND_KINDS)}"
        )
    if kind == "local":
        return _local_backend()

    base = _base_image(image, root)
    problem = docker_available(base)
    if problem is None:
        return DockerBackend(_environment_image(base, root, announce) if root is not None else base)
    if kind == "docker":
        raise BackendUnavailable(f"the docker sandbox backend cannot run: {problem}")
    logger.warning("Docker cannot be used (%s); falling back to the local backend", problem)
    return _local_backend()


def _base_image(setting: str, root: Path | None) -> str:
    """Return the image that the ``image`` setting names, never pulling one."""
    if setting != "auto":
        return setting
    requires_python = read_declarations(root).requires_python if root is not None else None
    try:
        client = docker.from_env(timeout=5)
    except docker.errors.DockerException:
        return OFFLINE_BASE  # docker_available reports the missing daemon
    try:
        return resolve_base(client, setting, requires_python=requires_python)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return OFFLINE_BASE
    finally:
        client.close()


def _environment_image(base: str, root: Path, announce: Callable[[str], None] | None) -> str:
    """Return the image with the dependencies that the repository at ``root`` declares."""
    # NOTE: the declarations are read from the working tree, so uncommitted
    # edits to them count, although the tests run on a snapshot of HEAD.
    declarations = read_declarations(root)
    client = docker.from_env(timeout=60)  # docker_available already reached the daemon
    try:
        if not declarations.requirements and not declarations.requires_python:
            # Nothing to install or check: the offline base has pytest, so the
            # container that probes a base would only cost time.
            if (client.images.get(base).labels or {}).get(ROLE_LABEL) == "base":
                return base
        image = ensure_env_image(
            client, root, declarations, probe_base(client, base), announce=announce
        )
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise EnvironmentBuildError(
            f"Docker failed while preparing the environment image of {root}: {error}"
        ) from error
    finally:
        client.close()
    if image.built:
        logger.info("built environment image %s for %s", image.tag, root)
    return image.tag


def _local_backend() -> LocalBackend:
    choice = os.environ.get(ISOLATION_VARIABLE, "auto")
    choices = {"auto": None, "bubblewrap": True, "rlimits": False}
    if choice not in choices:
        raise ValueError(
            f"invalid {ISOLATION_VARIABLE}={choice!r}; valid values are {', '.join(choices)}"
        )
    backend = LocalBackend(bubblewrap=choices[choice])
    logger.info("local sandbox isolation: %s", backend.isolation)
    return backend
