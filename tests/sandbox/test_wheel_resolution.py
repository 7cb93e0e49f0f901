"""Resolving wheels with pip on the host, from a local folder only."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sandbox.declarations import read_declarations
from sandbox.environment import download_wheels, write_lists
from sandbox.errors import ResolutionFailed
from tests.sandbox.wheels import make_wheel


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def resolve(root: Path, destination: Path) -> list[str]:
    declarations = read_declarations(root)
    destination.mkdir()
    write_lists(destination, declarations, ())
    download_wheels(destination, "3.11", declarations)
    return sorted(path.name for path in destination.glob("*.whl"))


def test_dependencies_downloaded(tmp_path, wheels):
    name = f"agentos-top-{uuid.uuid4().hex[:8]}"
    make_wheel(wheels, name, "1.0", "", requires=(f"{name}-dep>=1",))
    make_wheel(wheels, f"{name}-dep", "1.5", "")
    (tmp_path / "requirements.txt").write_text(f"{name}\n")

    found = resolve(tmp_path, tmp_path / "out")

    distribution = name.replace("-", "_")
    assert found == [
        f"{distribution}-1.0-py3-none-any.whl",
        f"{distribution}_dep-1.5-py3-none-any.whl",
    ]


def test_missing_dependency_named(tmp_path, wheels):
    name = f"agentos-top-{uuid.uuid4().hex[:8]}"
    make_wheel(wheels, name, "1.0", "", requires=(f"{name}-gone>=1",))
    (tmp_path / "requirements.txt").write_text(f"{name}\n")

    with pytest.raises(ResolutionFailed) as raised:
        resolve(tmp_path, tmp_path / "out")

    assert raised.value.requirement == f"{name}-gone>=1"
    assert "needed by another requirement" in str(raised.value)


def test_conflict_explained(tmp_path, wheels):
    name = f"agentos-top-{uuid.uuid4().hex[:8]}"
    make_wheel(wheels, name, "1.0", "", requires=(f"{name}-dep==1.0",))
    make_wheel(wheels, f"{name}-dep", "1.0", "")
    make_wheel(wheels, f"{name}-dep", "2.0", "")
    (tmp_path / "requirements.txt").write_text(f"{name}\n{name}-dep==2.0\n")

    with pytest.raises(ResolutionFailed) as raised:
        resolve(tmp_path, tmp_path / "out")

    message = str(raised.value)
    assert "conflict" in message
    assert f"{name}-dep==1.0" in message
    assert "To fix" not in message
