"""Environment images: built from local wheels, cached by their inputs, errors named."""

from __future__ import annotations

import os
import re

import docker
import pytest

from sandbox.declarations import read_declarations
from sandbox.docker_backend import PID_LABEL
from sandbox.environment import (
    ENV_REPOSITORY,
    OFFLINE_BASE,
    ROLE_LABEL,
    ensure_env_image,
    list_env_images,
    probe_base,
    resolve_base,
)
from sandbox.errors import EnvironmentBuildError, ResolutionFailed
from tests.env_images import TEST_LABEL
from tests.sandbox.wheels import make_wheel


def package(token: str) -> str:
    """Return a distribution name unique to the test, so its image hash is unique too."""
    return f"agentos-probe-{token}"


def build(client, root, docker_image, token, **options):
    base = probe_base(client, docker_image)
    return ensure_env_image(
        client, root, read_declarations(root), base, labels={TEST_LABEL: token}, **options
    )


def test_image_has_declared_package(client, make_repo, docker_image, wheels, token):
    name = package(token)
    make_wheel(wheels, name, "1.0", "VALUE = 42\n")
    root = make_repo({"requirements.txt": f"{name}==1.0\n"})

    image = build(client, root, docker_image, token)

    assert image.built
    assert image.tag.startswith(f"{ENV_REPOSITORY}:")
    labels = client.images.get(image.tag).labels
    assert labels[ROLE_LABEL] == "env"
    assert labels["org.llmagentos.inputs"] == image.inputs
    assert labels["org.llmagentos.repo"] == str(root.resolve())
    module = name.replace("-", "_")
    output = client.containers.run(
        image.tag,
        ["python3", "-c", f"import {module}; print({module}.VALUE)"],
        remove=True,
        network_mode="none",
    )
    assert output.decode().strip() == "42"
    assert client.images.get(image.tag).attrs["Config"]["User"] != "0"
    leftovers = client.containers.list(all=True, filters={"label": f"{PID_LABEL}={os.getpid()}"})
    assert leftovers == []


def test_second_build_is_cache_hit(client, make_repo, docker_image, wheels, token):
    name = package(token)
    make_wheel(wheels, name, "1.0", "VALUE = 1\n")
    root = make_repo({"pyproject.toml": f'[project]\nname = "x"\ndependencies = ["{name}"]\n'})

    first = build(client, root, docker_image, token)
    second = build(client, root, docker_image, token)

    assert first.built
    assert not second.built
    assert second.tag == first.tag


def test_changed_requirement_rebuilds(client, make_repo, docker_image, wheels, token):
    name = package(token)
    make_wheel(wheels, name, "1.0", "VALUE = 1\n")
    make_wheel(wheels, name, "2.0", "VALUE = 2\n")
    root = make_repo({"requirements.txt": f"{name}==1.0\n"})
    first = build(client, root, docker_image, token)

    (root / "requirements.txt").write_text(f"{name}==2.0\n")
    second = build(client, root, docker_image, token)

    assert second.built
    assert second.tag != first.tag


def test_unresolvable_requirement_named(client, make_repo, docker_image, wheels, token):
    name = package(token)
    make_wheel(wheels, name, "1.0", "VALUE = 1\n")
    root = make_repo({"requirements.txt": f"{name}==1.0\n{name}-missing>=3\n"})

    with pytest.raises(ResolutionFailed) as raised:
        build(client, root, docker_image, token)

    assert raised.value.requirement == f"{name}-missing>=3"
    assert "requirements.txt:2" in str(raised.value)
    assert list_env_images(client, {TEST_LABEL: token}) == []


def test_excluded_python_rejected(client, make_repo, docker_image, wheels, token):
    pyproject = '[project]\nname = "x"\nrequires-python = ">=3.99"\ndependencies = ["a"]\n'
    root = make_repo({"pyproject.toml": pyproject})

    with pytest.raises(EnvironmentBuildError) as raised:
        build(client, root, docker_image, token)

    base = probe_base(client, docker_image)
    assert ">=3.99" in str(raised.value)
    assert base.python in str(raised.value)


def test_no_dependencies_uses_base(client, make_repo, docker_image, token):
    root = make_repo({"test_a.py": "def test_a():\n    pass\n"})

    image = build(client, root, docker_image, token)

    assert image.tag == docker_image
    assert not image.built
    assert image.inputs is None


def test_auto_base_is_local_image(client):
    chosen = resolve_base(client, "auto")

    if chosen != OFFLINE_BASE:
        assert re.fullmatch(r"python:\d+\.\d+-slim", chosen)
    assert client.images.get(chosen)
    assert resolve_base(client, "example/base:1") == "example/base:1"
    assert resolve_base(client, "auto", requires_python="<3") == OFFLINE_BASE


def test_auto_base_prefers_local_official_image(client, docker_image):
    # Python 3.99 has no official image, so tagging the offline base with
    # that name clobbers nothing the user could have.
    name = "python:3.99-slim"
    try:
        client.images.get(name)
        pytest.skip(f"{name} already exists on this daemon; refusing to touch it")
    except docker.errors.ImageNotFound:
        pass
    client.images.get(docker_image).tag("python", "3.99-slim")
    try:
        newest = resolve_base(client, "auto")
        excluded = resolve_base(client, "auto", requires_python="<3.99")
    finally:
        client.images.remove(name)  # removes the tag only; the base keeps its own

    assert newest == name
    assert excluded != name
    assert client.images.get(docker_image)
