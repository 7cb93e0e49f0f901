"""Fault injection with the Docker sandbox: a heal stopped while a validation container runs.

After SIGINT the repository is as before and the heal's containers are gone.
After SIGKILL the container outlives the heal, and the next heal removes it
by its labels when it starts.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandbox.docker_backend import PID_LABEL
from tests.kernel.fault_injection import full_state, start_heal, wait_for_line, wait_for_pause

pytestmark = pytest.mark.docker

CALC = "import os\n\n\ndef one():\n    return 1\n"
# The second test sleeps only once the unused import is gone, so on the
# original code (the baseline) the suite is quick and only a candidate's
# validation keeps a container running.
TEST_CALC = """from pathlib import Path
import time

from calc import one


def test_one():
    assert one() == 1


def test_slow_once_fixed():
    if "import os" not in (Path(__file__).parent / "calc.py").read_text():
        time.sleep(600)
"""


@pytest.fixture
def project(make_repo) -> Path:
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC})
    (root / "scratch.txt").write_text("untracked notes\n")
    return root


@pytest.fixture
def heal_pids() -> Iterator[list[int]]:
    """Collect the pids of started heals, and remove their containers when a check failed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        for container in containers_of(pid):
            container.remove(force=True)


def containers_of(pid: int, running_only: bool = False) -> list:
    """Return the sandbox containers that process ``pid`` created; other tests have their own."""
    client = docker.from_env()
    try:
        return client.containers.list(all=not running_only, filters={"label": f"{PID_LABEL}={pid}"})
    finally:
        client.close()


def start_validating(root: Path, image: str):
    """Start a heal and return it once a container validates its candidate."""
    heal = start_heal(root, None, "--image", image, "--test-timeout", "120", sandbox="docker")
    wait_for_line(heal, "candidate(s) for")
    deadline = time.monotonic() + 60
    while not containers_of(heal.pid, running_only=True):
        assert time.monotonic() < deadline, "no validation container started"
        time.sleep(0.2)
    return heal


def test_sigint_while_validating(project, docker_image, heal_pids):
    before = full_state(project)

    heal = start_validating(project, docker_image)
    heal_pids.append(heal.pid)
    heal.send_signal(signal.SIGINT)
    _, stderr = heal.communicate(timeout=60)

    assert heal.returncode == 130, stderr
    assert full_state(project) == before
    assert containers_of(heal.pid) == []
    assert not (project / ".agentos" / "lock").exists()


def test_sigkill_while_validating(project, docker_image, heal_pids):
    before = full_state(project)

    heal = start_validating(project, docker_image)
    heal_pids.append(heal.pid)
    heal.kill()
    heal.communicate(timeout=60)
    left = containers_of(heal.pid)
    # The sweep runs before the first stage, so pausing there is late enough.
    again = start_heal(project, "detect", "--image", docker_image, sandbox="docker")
    heal_pids.append(again.pid)
    wait_for_pause(again, "detect")
    swept = containers_of(heal.pid)
    again.send_signal(signal.SIGINT)
    again.communicate(timeout=60)

    assert left
    assert swept == []
    assert full_state(project) == before
    assert containers_of(again.pid) == []
