"""Snapshot: the repository tree as a tar, with an overlay of whole-file changes."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.workspace import Snapshot


@pytest.fixture
def snapshot(make_repo: Callable[[dict[str, str]], Path]) -> Snapshot:
    repo = make_repo({"app/calc.py": "VALUE = 1\n", "README.md": "hello\n"})
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
    )
    return Snapshot(archive.stdout)


def members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as opened:
        return {member.name: member for member in opened.getmembers()}


def read(archive: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive)) as opened:
        extracted = opened.extractfile(name)
        assert extracted is not None
        return extracted.read()


def test_extract_writes_tree(snapshot: Snapshot, tmp_path: Path) -> None:
    snapshot.extract(tmp_path)

    assert (tmp_path / "app" / "calc.py").read_text() == "VALUE = 1\n"
    assert (tmp_path / "README.md").read_text() == "hello\n"


def test_overlay_replaces_and_adds(snapshot: Snapshot, tmp_path: Path) -> None:
    changed = snapshot.with_overlay({"app/calc.py": b"VALUE = 2\n", "new/pkg/mod.py": b"X = 1\n"})

    changed.extract(tmp_path)

    assert (tmp_path / "app" / "calc.py").read_text() == "VALUE = 2\n"
    assert (tmp_path / "new" / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert (tmp_path / "README.md").read_text() == "hello\n"


def test_overlay_leaves_original_alone(snapshot: Snapshot, tmp_path: Path) -> None:
    snapshot.with_overlay({"app/calc.py": b"VALUE = 2\n"})

    snapshot.extract(tmp_path)

    assert (tmp_path / "app" / "calc.py").read_text() == "VALUE = 1\n"


def test_later_overlay_wins(snapshot: Snapshot) -> None:
    changed = snapshot.with_overlay({"app/calc.py": b"VALUE = 2\n"}).with_overlay(
        {"app/calc.py": b"VALUE = 3\n"}
    )

    assert read(changed.to_tar(), "app/calc.py") == b"VALUE = 3\n"


def test_tar_prefix_and_owner(snapshot: Snapshot) -> None:
    archive = snapshot.with_overlay({"extra/file.txt": b"x"}).to_tar(
        prefix="work", uid=1000, gid=1000
    )

    found = members(archive)
    assert all(name.startswith("work/") for name in found)
    assert "work/app/calc.py" in found
    assert "work/extra/file.txt" in found
    assert found["work/extra"].isdir()
    assert {(m.uid, m.gid) for m in found.values()} == {(1000, 1000)}
    assert read(archive, "work/extra/file.txt") == b"x"


@pytest.mark.parametrize("path", ["../escape.py", "/etc/passwd", "a/../../b.py"])
def test_overlay_outside_tree_rejected(snapshot: Snapshot, path: str) -> None:
    with pytest.raises(ValueError, match="invalid overlay path"):
        snapshot.with_overlay({path: b"x"}).to_tar()


def test_unsafe_base_members_dropped(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in ("../outside.txt", "/abs.txt", "inside.txt"):
            info = tarfile.TarInfo(name)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))

    names = set(members(Snapshot(buffer.getvalue()).to_tar()))

    assert names == {"inside.txt"}
