"""The Docker backend on a remote engine named by DOCKER_HOST.

The remote engine is a second dockerd that this module starts, listening on a
loopback TCP port with its own data root, exec root and pid file, and stops
when the module ends. The sandbox image reaches it with ``docker save`` and
``docker load``, so no registry is involved.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandbox.backend import RunPlan
from sandbox.docker_backend import DockerBackend, docker_available
from sandbox.results import RunStatus
from sandbox.selection import open_backend
from sandbox.workspace import Snapshot
from tests.conftest import git

pytestmark = pytest.mark.docker

REMOTE_TAG = "agentos-sandbox:remote-engine-test"  # exists on the second engine only
START_TIMEOUT = 90  # seconds for the second dockerd to answer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def remote_engine(docker_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a second dockerd on 127.0.0.1, load the sandbox image into it, return its URL."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        if os.environ.get("AGENTOS_REQUIRE_DOCKER") == "1":
            pytest.fail("a second dockerd needs the dockerd binary and root")
        pytest.skip("a second dockerd needs the dockerd binary and root")
    base = tmp_path_factory.mktemp("engine")
    url = f"tcp://127.0.0.1:{free_port()}"
    log = (base / "dockerd.log").open("wb")
    command = [
        dockerd,
        "--data-root", str(base / "data"),
        "--exec-root", str(base / "exec"),
        "--pidfile", str(base / "dockerd.pid"),
        "-H", url,
        "--bridge", "none",
        "--iptables=false",
        "--ip-masq=false",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = wait_for_engine(url, process, base / "dockerd.log")
        load_image(docker_image, url)
        client.images.get(docker_image).tag(REMOTE_TAG)
        yield url
        for container in client.containers.list(all=True):
            container.remove(force=True)  # every container on this engine is this module's
        client.close()
    finally:
        stop(process)
        log.close()
        shutil.rmtree(base / "data", ignore_errors=True)


def wait_for_engine(url: str, process: subprocess.Popen[bytes], log: Path) -> docker.DockerClient:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the second dockerd exited: {log.read_text()[-2000:]}")
        try:
            client = docker.DockerClient(base_url=url, timeout=10)
            client.ping()
            return client
        except docker.errors.DockerException:
            time.sleep(0.5)
    pytest.fail(f"the second dockerd did not answer on {url}: {log.read_text()[-2000:]}")


def load_image(image: str, url: str) -> None:
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    loaded = subprocess.run(
        ["docker", "-H", url, "load", "-q"], stdin=save.stdout, capture_output=True, check=False
    )
    assert save.stdout is not None
    save.stdout.close()
    assert save.wait() == 0, "docker save failed"
    assert loaded.returncode == 0, loaded.stderr


@pytest.fixture
def snapshot(make_repo) -> Snapshot:
    repo = make_repo(
        {
            "app.py": "def answer():\n    return 42\n",
            "tests/test_app.py": textwrap.dedent(
                """\
                import socket

                from app import answer

                def test_answer():
                    assert answer() == 42

                def test_hostname_is_container():
                    assert socket.gethostname() != {host!r}
                """
            ).format(host=socket.gethostname()),
        }
    )
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
    )
    assert git(repo, "status", "--porcelain") == ""
    return Snapshot(archive.stdout)


def test_candidate_runs_on_remote_engine(
    remote_engine: str, snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", remote_engine)
    # The tag exists only on the second engine, so a run that works went there.
    assert docker_available(REMOTE_TAG) is None
    backend = DockerBackend(REMOTE_TAG)
    try:
        run = backend.run(
            snapshot.with_overlay({"app.py": b"def answer():\n    return 42\n"}),
            RunPlan(timeout=120),
        )
    finally:
        backend.close()

    assert run.status is RunStatus.COMPLETED, run.detail
    assert len(run.passed()) == 2
    remote = docker.DockerClient(base_url=remote_engine)
    try:
        assert remote.containers.list(all=True) == []  # the run cleaned up on that engine
    finally:
        remote.close()


def test_selection_follows_docker_host(remote_engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert docker_available(REMOTE_TAG) is not None  # the local engine lacks the tag

    monkeypatch.setenv("DOCKER_HOST", remote_engine)
    backend = open_backend("docker", REMOTE_TAG)
    try:
        assert backend.name == "docker"
    finally:
        backend.close()
