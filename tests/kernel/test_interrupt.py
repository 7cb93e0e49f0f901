"""Interrupting a heal part-way leaves the user's work, the repository and the host as they were."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from sandbox.docker_backend import PID_LABEL
from tests.conftest import git

pytestmark = pytest.mark.docker

SLOW_TESTS = """import time

from calc import one


def test_one():
    assert one() == 1


def test_slow():
    time.sleep(30)
"""


def snapshot_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".agentos" not in path.parts
    }


def start_heal(root: Path, image: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kernel.cli",
            "heal",
            str(root),
            "--sandbox",
            "docker",
            "--image",
            image,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for_sandbox_container(pid: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if sandbox_containers(pid, running_only=True):
            return
        time.sleep(0.2)
    pytest.fail("no sandbox container appeared")


def sandbox_containers(pid: int, running_only: bool = False) -> list:
    """Return the sandbox containers created by process ``pid``; other tests may run their own."""
    client = docker.from_env()
    try:
        return client.containers.list(all=not running_only, filters={"label": f"{PID_LABEL}={pid}"})
    finally:
        client.close()


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_validation_loses_nothing(make_repo, docker_image, signal_number):
    root = make_repo(
        {
            "calc.py": "import os\n\n\ndef one():\n    return 1\n",
            "test_calc.py": SLOW_TESTS,
        }
    )
    (root / "calc.py").write_text("import os\n\n\ndef one():\n    return 1  # unsaved edit\n")
    (root / "scratch.txt").write_text("untracked notes\n")
    files_before = snapshot_files(root)
    index_before = (root / ".git" / "index").read_bytes()
    head_before = git(root, "rev-parse", "HEAD")
    branches_before = git(root, "branch", "--list")

    heal = start_heal(root, docker_image, "--allow-dirty", "--branch", "agentos/interrupted")
    wait_for_sandbox_container(heal.pid, time.monotonic() + 60)
    heal.send_signal(signal_number)
    _, stderr = heal.communicate(timeout=60)

    assert heal.returncode == 130, stderr
    assert "interrupted" in stderr
    assert snapshot_files(root) == files_before
    assert (root / ".git" / "index").read_bytes() == index_before
    assert git(root, "rev-parse", "HEAD") == head_before
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (root / ".agentos" / "lock").exists()
    assert sandbox_containers(heal.pid) == []
    # The fix branch was made before the interrupt and had no commit, so it is gone.
    assert git(root, "branch", "--list") == branches_before
    assert "failed to remove sandbox container" not in stderr
