"""Fixtures shared by every test module: real git repositories and the Docker gate."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["tests.env_images"]

SANDBOX_IMAGE = os.environ.get("AGENTOS_SANDBOX_IMAGE", "agentos-sandbox:latest")


@pytest.fixture(autouse=True)
def _no_package_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep pip, which environment image builds run on the host, off every package index.

    A test that needs wheels gives pip a local folder with PIP_FIND_LINKS.
    """
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


def _docker_problem() -> str | None:
    """Return why Docker tests cannot run here, or None when they can."""
    try:
        import docker
        import docker.errors

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as error:  # any failure to reach the daemon means "no Docker here"
        return f"no Docker daemon answers ({error})"
    try:
        client.images.get(SANDBOX_IMAGE)
    except docker.errors.ImageNotFound:
        return (
            f"sandbox image {SANDBOX_IMAGE} is missing; build it with sandbox/image/build-base.sh"
        )
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def docker_image() -> str:
    """Return the sandbox image name.

    Skips the test without Docker, or fails it when AGENTOS_REQUIRE_DOCKER=1.
    """
    problem = _docker_problem()
    if problem is not None:
        if os.environ.get("AGENTOS_REQUIRE_DOCKER") == "1":
            pytest.fail(f"AGENTOS_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)
    return SANDBOX_IMAGE


@pytest.fixture(scope="session")
def chromium() -> str:
    """Return the path of a headless-capable Chromium.

    Skips the test without one, or fails it when AGENTOS_REQUIRE_BROWSER=1.
    """
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        problem = "no chromium on PATH; install the Debian package chromium"
        if os.environ.get("AGENTOS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"AGENTOS_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    return found


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its standard output; fail the test on error."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Create a git repository with the given files committed on branch main."""

    counter = iter(range(1000))

    def create(files: dict[str, str]) -> Path:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.name", "Test User")
        git(root, "config", "user.email", "test.user@example.com")
        git(root, "config", "commit.gpgsign", "false")
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        return root

    return create
