"""``agentos sandbox`` and heals in environment images, against the real daemon."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

import docker
import docker.errors
import pytest

from kernel.cli import main
from sandbox.docker_backend import HOST_LABEL, PID_LABEL, SANDBOX_LABEL
from sandbox.environment import REPO_LABEL, ROLE_LABEL, list_env_images
from tests.conftest import git
from tests.env_images import TEST_LABEL
from tests.sandbox.wheels import make_wheel

pytestmark = pytest.mark.docker


CALC = """import {module} as probe


def scaled_area(r):
    return probe.VALUE * math.pi * r * r
"""

TEST_CALC = """import math

from calc import scaled_area


def test_scaled_area():
    assert scaled_area(1) == 2 * math.pi
"""


def sandbox_json(capsys, *arguments: str) -> tuple[int, dict]:
    code = main(["sandbox", *arguments, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_build_then_up_to_date(make_repo, docker_image, wheels, token, capsys):
    name = f"agentos-probe-{token}"
    make_wheel(wheels, name, "1.0", "VALUE = 2\n")
    root = make_repo({"requirements.txt": f"{name}\n"})
    label = f"{TEST_LABEL}={token}"

    arguments = ("build", str(root), "--image", docker_image, "--label", label)

    code, first = sandbox_json(capsys, *arguments)
    code_again, second = sandbox_json(capsys, *arguments)

    assert code == 0
    assert first["built"]
    assert first["tag"].startswith("agentos-env:")
    assert first["size"] > 0
    assert first["requirements"] == [name]
    assert code_again == 0
    assert not second["built"]
    assert second["tag"] == first["tag"]


def test_build_prints_tag_on_stdout(make_repo, docker_image, wheels, token, capsys):
    name = f"agentos-probe-{token}"
    make_wheel(wheels, name, "1.0", "VALUE = 2\n")
    root = make_repo({"requirements.txt": f"{name}\n"})
    label = f"{TEST_LABEL}={token}"

    code = main(["sandbox", "build", str(root), "--image", docker_image, "--label", label])
    captured = capsys.readouterr()

    assert code == 0
    assert captured.out.startswith("agentos-env:")
    assert len(captured.out.split()) == 1
    assert " MB" in captured.err


@pytest.mark.parametrize("kind", ["missing", "plain folder"])
def test_build_outside_repository_fails(tmp_path, kind, capsys):
    path = tmp_path / "nowhere"
    if kind == "plain folder":
        path.mkdir()

    code = main(["sandbox", "build", str(path)])
    captured = capsys.readouterr()

    assert code == 2
    assert captured.out == ""
    error = " ".join(captured.err.split())
    assert str(path) in error
    assert "git repository" in error


def test_status_prints_on_stdout(make_repo, docker_image, wheels, token, capsys):
    name = f"agentos-probe-{token}"
    make_wheel(wheels, name, "1.0", "VALUE = 2\n")
    root = make_repo({"requirements.txt": f"{name}\n"})
    label = f"{TEST_LABEL}={token}"
    _, built = sandbox_json(capsys, "build", str(root), "--image", docker_image, "--label", label)

    code = main(["sandbox", "status", "--label", label])
    captured = capsys.readouterr()

    assert code == 0
    assert built["tag"] in captured.out
    assert "sandbox container(s)" in captured.out
    assert captured.err == ""


def test_status_lists_labelled_image(make_repo, docker_image, wheels, token, capsys):
    name = f"agentos-probe-{token}"
    make_wheel(wheels, name, "1.0", "VALUE = 2\n")
    root = make_repo({"requirements.txt": f"{name}\n"})
    label = f"{TEST_LABEL}={token}"
    _, built = sandbox_json(capsys, "build", str(root), "--image", docker_image, "--label", label)

    code, status = sandbox_json(capsys, "status", "--label", label)

    assert code == 0
    [image] = status["images"]
    assert image["tags"] == [built["tag"]]
    assert image["role"] == "env"
    assert image["repository"] == str(root.resolve())
    assert status["containers"] == []


def test_prune_keeps_base_images(client, make_repo, docker_image, wheels, token, capsys):
    name = f"agentos-probe-{token}"
    make_wheel(wheels, name, "1.0", "VALUE = 2\n")
    root = make_repo({"requirements.txt": f"{name}\n"})
    label = f"{TEST_LABEL}={token}"
    _, built = sandbox_json(capsys, "build", str(root), "--image", docker_image, "--label", label)
    fake_base = make_labelled_base(client, docker_image, token)

    code, result = sandbox_json(capsys, "prune", "--label", label)

    assert code == 0
    assert result["removed_images"] == [built["tag"]]
    assert result["skipped"] == []
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(built["tag"])
    assert client.images.get(fake_base).labels[ROLE_LABEL] == "base"
    assert client.images.get(docker_image).labels[ROLE_LABEL] == "base"


def test_prune_removes_leftover_containers(client, docker_image, token, capsys):
    # A pid above the kernel's maximum belongs to no process.
    dead_pid = str(int(Path("/proc/sys/kernel/pid_max").read_text()) + 1)
    containers = {
        "dead": make_container(client, docker_image, token, dead_pid),
        "alive": make_container(client, docker_image, token, str(os.getpid())),
    }
    try:
        code, result = sandbox_json(capsys, "prune", "--label", f"{TEST_LABEL}={token}")
        remaining = [
            container.id
            for container in client.containers.list(
                all=True, filters={"label": f"{TEST_LABEL}={token}"}
            )
        ]
    finally:
        for container in containers.values():
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

    assert code == 0
    assert result["removed_containers"] == [containers["dead"].id[:12]]
    assert remaining == [containers["alive"].id]


def test_build_names_unresolvable_requirement(make_repo, docker_image, wheels, token, capsys):
    root = make_repo({"requirements.txt": f"agentos-missing-{token}==1.0\n"})

    code = main(["sandbox", "build", str(root), "--image", docker_image])

    assert code == 2
    error = capsys.readouterr().err
    assert f"agentos-missing-{token}==1.0" in error
    assert "requirements.txt:1" in error


def test_bad_label_is_usage_error(docker_image, capsys):
    code = main(["sandbox", "prune", "--label", "no-equals-sign"])

    assert code == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_heal_uses_environment_image(client, make_repo, docker_image, wheels, token, capsys):
    name = f"agentos-probe-{token}"
    module = name.replace("-", "_")
    make_wheel(wheels, name, "1.0", "VALUE = 2\n")
    root = make_repo(
        {
            "requirements.txt": f"{name}==1.0\n",
            "calc.py": CALC.format(module=module),
            "test_calc.py": TEST_CALC,
        }
    )
    start = git(root, "rev-parse", "HEAD").strip()

    try:
        code = main(
            ["heal", str(root), "--sandbox", "docker", "--image", docker_image]
            + ["--provider", "offline", "--json"]
        )
    finally:
        remove_repository_images(client, root)

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, report
    assert "building environment image agentos-env:" in captured.err
    [fault] = [f for f in report["faults"] if f["status"] == "healed"]
    assert "import math" in (root / "calc.py").read_text()
    assert git(root, "rev-list", "--count", f"{start}..HEAD").strip() == "1"
    assert fault["commit"] == git(root, "rev-parse", "HEAD").strip()


def test_failed_build_keeps_work(make_repo, docker_image, wheels, token, capsys):
    root = make_repo(
        {
            "requirements.txt": f"agentos-missing-{token}\n",
            "calc.py": "def f():\n    return 1\n",
            "test_calc.py": "from calc import f\n\n\ndef test_f():\n    assert f() == 2\n",
        }
    )
    (root / "calc.py").write_text("def f():\n    return 3  # work in progress\n")

    code = main(["heal", str(root), "--sandbox", "docker", "--image", docker_image])

    assert code == 2
    assert f"agentos-missing-{token}" in capsys.readouterr().err
    assert (root / "calc.py").read_text() == "def f():\n    return 3  # work in progress\n"
    assert git(root, "status", "--porcelain").strip() == "M calc.py"


def make_labelled_base(client: docker.DockerClient, base: str, token: str) -> str:
    """Commit a copy of ``base`` labelled as a base image and with the test label."""
    container = client.containers.create(base, ["true"], network_mode="none")
    try:
        tag = f"agentos-test-base:{token}"
        container.commit(
            repository="agentos-test-base",
            tag=token,
            changes=[f"LABEL {ROLE_LABEL}=base", f"LABEL {TEST_LABEL}={token}"],
        )
    finally:
        container.remove(force=True)
    return tag


def make_container(client: docker.DockerClient, image: str, token: str, pid: str):
    """Create a stopped sandbox container that names ``pid`` as the process that made it."""
    labels = {SANDBOX_LABEL: "1", PID_LABEL: pid, HOST_LABEL: socket.gethostname()}
    labels[TEST_LABEL] = token
    return client.containers.create(image, ["true"], network_mode="none", labels=labels)


def remove_repository_images(client: docker.DockerClient, root: Path) -> None:
    for image in list_env_images(client, {REPO_LABEL: str(root.resolve())}):
        client.images.remove(image.id, force=True)
