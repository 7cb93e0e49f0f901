"""Fixtures for tests that build environment images on the shared Docker daemon.

Every image a test builds carries the label ``TEST_LABEL=<token>``, so the
test removes exactly its own images, whatever else the daemon holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandbox.environment import list_env_images

TEST_LABEL = "org.llmagentos.test"


@pytest.fixture
def client(docker_image: str) -> Iterator[docker.DockerClient]:
    connection = docker.from_env()
    yield connection
    connection.close()


@pytest.fixture
def token(client: docker.DockerClient) -> Iterator[str]:
    """Return a label value unique to this test; remove the images it labels afterwards."""
    value = uuid.uuid4().hex[:10]
    yield value
    for image in list_env_images(client, {TEST_LABEL: value}):
        client.images.remove(image.id, force=True)
    for image in client.images.list(filters={"label": f"{TEST_LABEL}={value}"}):
        client.images.remove(image.id, force=True)


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str) -> Path:
    """Point pip at a local folder of wheels, so that no package index is contacted."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder
