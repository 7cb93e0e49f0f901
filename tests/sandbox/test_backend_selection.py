"""open_backend: choosing between the Docker and local backends."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sandbox.docker_backend import DockerBackend
from sandbox.errors import BackendUnavailable
from sandbox.local_backend import LocalBackend
from sandbox.selection import open_backend


@pytest.fixture
def no_daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the Docker client at a socket where no daemon listens."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'missing.sock'}")


def test_local_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOS_LOCAL_ISOLATION", "rlimits")
    backend = open_backend("local", "agentos-sandbox:latest")

    assert isinstance(backend, LocalBackend)
    assert backend.isolated is False
    assert backend.isolation == "rlimits"


def test_local_isolation_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOS_LOCAL_ISOLATION", "chroot")

    with pytest.raises(ValueError, match="'chroot'.*auto, bubblewrap, rlimits"):
        open_backend("local", "agentos-sandbox:latest")


def test_unknown_kind_names_valid_values() -> None:
    with pytest.raises(ValueError, match="'podman'.*auto, docker, local"):
        open_backend("podman", "agentos-sandbox:latest")


@pytest.mark.usefixtures("no_daemon")
def test_docker_without_daemon_raises() -> None:
    with pytest.raises(BackendUnavailable, match="start the daemon"):
        open_backend("docker", "agentos-sandbox:latest")


@pytest.mark.usefixtures("no_daemon")
def test_auto_without_daemon_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sandbox.selection"):
        backend = open_backend("auto", "agentos-sandbox:latest")

    assert isinstance(backend, LocalBackend)
    assert any("local backend" in record.getMessage() for record in caplog.records)


@pytest.mark.docker
def test_docker_missing_image_raises(docker_image: str) -> None:
    with pytest.raises(BackendUnavailable, match="build-base.sh"):
        open_backend("docker", "agentos-sandbox:no-such-tag")


@pytest.mark.docker
def test_auto_prefers_docker(docker_image: str) -> None:
    backend = open_backend("auto", docker_image)
    try:
        assert isinstance(backend, DockerBackend)
        assert backend.isolated is True
    finally:
        backend.close()
