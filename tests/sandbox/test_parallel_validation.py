"""Candidates validated in parallel through the Docker backend and the pool."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from sandbox.backend import RunPlan
from sandbox.docker_backend import PID_LABEL, SANDBOX_LABEL, DockerBackend
from sandbox.pool import first_accepted
from sandbox.results import TestRun
from sandbox.validation import judge
from sandbox.workspace import Snapshot

pytestmark = pytest.mark.docker

TARGET = "tests/test_app.py::test_answer"
FIXED = b"def answer():\n    return 42\n"
WRONG = b"def answer():\n    return 43\n"
HANGS = b"import time\n\ndef answer():\n    time.sleep(600)\n"


def our_containers(client: docker.DockerClient) -> list:
    label_filter = [f"{SANDBOX_LABEL}=1", f"{PID_LABEL}={os.getpid()}"]
    return client.containers.list(all=True, filters={"label": label_filter})


@pytest.fixture
def client(docker_image: str) -> Iterator[docker.DockerClient]:
    connection = docker.from_env()
    yield connection
    assert our_containers(connection) == [], "a sandbox container was left behind"
    connection.close()


@pytest.fixture
def backend(docker_image: str) -> Iterator[DockerBackend]:
    sandbox = DockerBackend(docker_image)
    yield sandbox
    sandbox.close()


@pytest.fixture
def snapshot(make_repo: Callable[[dict[str, str]], Path]) -> Snapshot:
    repo = make_repo(
        {
            "app.py": "def answer():\n    return 41\n",
            "tests/test_app.py": textwrap.dedent(
                """\
                from app import answer

                def test_answer():
                    assert answer() == 42
                """
            ),
        }
    )
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
    )
    return Snapshot(archive.stdout)


def test_fix_wins_and_hang_cancelled(
    backend: DockerBackend, snapshot: Snapshot, client: docker.DockerClient
) -> None:
    baseline = backend.run(snapshot, RunPlan(timeout=60))
    candidates = [WRONG, FIXED, HANGS]

    def validate(content: bytes) -> TestRun:
        patched = snapshot.with_overlay({"app.py": content})
        return backend.run(patched, RunPlan(targets=(TARGET,), timeout=300))

    def accepted(run: TestRun) -> bool:
        return judge(baseline, run, (TARGET,)).accepted

    started = time.monotonic()
    outcome = first_accepted(candidates, validate, accepted, workers=3, cancel=backend.cancel)
    elapsed = time.monotonic() - started

    assert outcome.winner == 1
    assert outcome.results[0] is not None
    assert not accepted(outcome.results[0])
    assert outcome.results[2] is None  # the hanging candidate was cancelled
    assert elapsed < 300  # far below the hanging run's deadline: it did not wait for it


def test_interrupt_removes_parallel_runs(
    backend: DockerBackend, snapshot: Snapshot, client: docker.DockerClient
) -> None:
    def validate(content: bytes) -> TestRun:
        return backend.run(snapshot.with_overlay({"app.py": content}), RunPlan(timeout=300))

    def interrupt_when_both_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = [c for c in our_containers(client) if c.status == "running"]
            if len(running) == 2:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=interrupt_when_both_run, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        first_accepted(
            [HANGS, HANGS], validate, lambda run: False, workers=2, cancel=backend.cancel
        )
    watcher.join()

    assert our_containers(client) == []
