"""Choose the sandbox backend from a setting: "auto", "docker" or "local"."""

from __future__ import annotations

import logging
import os

from sandbox.backend import SandboxBackend
from sandbox.docker_backend import DockerBackend, docker_available
from sandbox.errors import BackendUnavailable
from sandbox.local_backend import LocalBackend

logger = logging.getLogger(__name__)

BACKEND_KINDS = ("auto", "docker", "local")
# Chooses the local backend's isolation: "auto" (bubblewrap when bwrap is
# installed), "bubblewrap" or "rlimits".
ISOLATION_VARIABLE = "AGENTOS_LOCAL_ISOLATION"


def open_backend(kind: str, image: str) -> SandboxBackend:
    """Return the backend that ``kind`` names.

    "docker" raises BackendUnavailable at once when no daemon responds or
    ``image`` is missing; "auto" falls back to the local backend then, with a
    warning that it is not isolated.
    """
    if kind not in BACKEND_KINDS:
        raise ValueError(
            f"unknown sandbox backend {kind!r}; valid values are {', '.join(BACKEND_KINDS)}"
        )
    if kind == "local":
        return _local_backend()

    problem = docker_available(image)
    if problem is None:
        return DockerBackend(image)
    if kind == "docker":
        raise BackendUnavailable(f"the docker sandbox backend cannot run: {problem}")
    logger.warning("Docker cannot be used (%s); falling back to the local backend", problem)
    return _local_backend()


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
