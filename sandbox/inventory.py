"""List and prune what the tool left in the Docker daemon, selected by label only.

Images carry ``org.llmagentos.role``: "base" on the offline base image and
"env" on environment images. Containers carry ``org.llmagentos.sandbox``.
Pruning removes environment images and leftover containers, never a base
image, and never anything without the tool's labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions

# A private helper of the Docker backend, shared so that prune and the sweep
# at start agree on which containers are left over.
from sandbox.docker_backend import SANDBOX_LABEL, is_leftover
from sandbox.environment import BASE_LABEL, PYTHON_LABEL, REPO_LABEL, ROLE_LABEL
from sandbox.errors import SandboxError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageEntry:
    """One image with the tool's role label."""

    image_id: str
    tags: tuple[str, ...]
    role: str  # "base" or "env"
    size: int  # bytes
    repository: str  # the repository the environment image was built for; "" for a base
    python: str
    base: str


@dataclass(frozen=True)
class ContainerEntry:
    """One container with the sandbox label."""

    container_id: str
    image: str
    state: str  # such as "running" or "exited"
    leftover: bool  # its kernel is gone, so a prune or the next start removes it


@dataclass(frozen=True)
class PruneResult:
    removed_images: tuple[str, ...]  # tags, or ids of untagged images
    removed_containers: tuple[str, ...]  # short ids
    skipped: tuple[str, ...]  # one reason each, for images still in use and the like


def list_images(
    client: docker.DockerClient, labels: dict[str, str] | None = None
) -> list[ImageEntry]:
    """Return the images with a role label and all of ``labels``, base images first."""
    filters = [ROLE_LABEL, *(f"{key}={value}" for key, value in (labels or {}).items())]
    try:
        images = client.images.list(filters={"label": filters})
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise SandboxError(f"failed to list the sandbox images: {error}") from error
    entries = [_image_entry(image) for image in images]
    return sorted(entries, key=lambda entry: (entry.role != "base", not entry.tags, entry.tags))


def list_containers(
    client: docker.DockerClient, labels: dict[str, str] | None = None
) -> list[ContainerEntry]:
    """Return the sandbox containers with all of ``labels``, running and stopped."""
    filters = [f"{SANDBOX_LABEL}=1", *(f"{key}={value}" for key, value in (labels or {}).items())]
    try:
        found = client.api.containers(all=True, filters={"label": filters})
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise SandboxError(f"failed to list the sandbox containers: {error}") from error
    return [
        ContainerEntry(
            entry["Id"][:12],
            str(entry.get("Image", "")),
            str(entry.get("State", "")),
            is_leftover(entry.get("Labels") or {}, str(entry.get("State", ""))),
        )
        for entry in found
    ]


def prune(client: docker.DockerClient, labels: dict[str, str] | None = None) -> PruneResult:
    """Remove the environment images and leftover containers with all of ``labels``.

    Containers go first, so that an image used only by a leftover container
    can go too. An image that a running container still uses is skipped.
    """
    removed_containers = []
    for container in list_containers(client, labels):
        if container.leftover:
            _remove_container(client, container.container_id)
            removed_containers.append(container.container_id)

    removed_images: list[str] = []
    skipped: list[str] = []
    for image in list_images(client, {**(labels or {}), ROLE_LABEL: "env"}):
        name = image.tags[0] if image.tags else image.image_id[:19]
        if image.role != "env":
            continue  # a base image also labelled env by hand stays
        try:
            # Tag by tag and without force: the last tag takes the image with
            # it, unless a container still uses it.
            for reference in image.tags or (image.image_id,):
                client.images.remove(reference)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as error:
            skipped.append(f"{name}: {error.explanation or error}")
            continue
        logger.info("removed environment image %s", name)
        removed_images.append(name)
    return PruneResult(tuple(removed_images), tuple(removed_containers), tuple(skipped))


def _image_entry(image) -> ImageEntry:
    labels = image.labels or {}
    return ImageEntry(
        image.id,
        tuple(image.tags),
        labels.get(ROLE_LABEL, ""),
        int(image.attrs.get("Size", 0)),
        labels.get(REPO_LABEL, ""),
        labels.get(PYTHON_LABEL, ""),
        labels.get(BASE_LABEL, ""),
    )


def _remove_container(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True)
        logger.info("removed leftover sandbox container %s", container_id)
    except docker.errors.NotFound:
        pass
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise SandboxError(f"failed to remove sandbox container {container_id}: {error}") from error
