"""Repository.drop_commit: take an unverified fix off the branch and keep the user's changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.errors import DirtyTreeError
from kernel.gitops import Repository
from tests.conftest import git

APP = "def answer():\n    return 41\n"


@pytest.fixture
def project(make_repo) -> Path:
    return make_repo({"app.py": APP, "notes.txt": "first\n"})


def commit_fix(root: Path, contents: dict[str, str]) -> tuple[str, str]:
    """Commit ``contents`` as the tool; return (parent, fix commit)."""
    repository = Repository.open(root)
    try:
        parent = repository.head()
        return parent, repository.commit_files(contents, "fix: answer")
    finally:
        repository.close()


def drop(root: Path, commit: str, parent: str) -> bool:
    repository = Repository.open(root)
    try:
        return repository.drop_commit(commit, parent)
    finally:
        repository.close()


def test_drop_keeps_user_changes(project):
    (project / "notes.txt").write_text("staged\n")
    git(project, "add", "notes.txt")
    (project / "notes.txt").write_text("staged, then edited\n")
    (project / "scratch.txt").write_text("untracked\n")
    staged = git(project, "diff", "--cached")
    parent, fix = commit_fix(project, {"app.py": APP.replace("41", "42")})

    dropped = drop(project, fix, parent)

    assert dropped
    assert git(project, "rev-parse", "HEAD").strip() == parent
    assert (project / "app.py").read_text() == APP
    assert git(project, "diff", "--cached") == staged
    assert (project / "notes.txt").read_text() == "staged, then edited\n"
    assert (project / "scratch.txt").read_text() == "untracked\n"


def test_drop_removes_created_file(project):
    parent, fix = commit_fix(project, {"pkg/new.py": "VALUE = 1\n"})

    dropped = drop(project, fix, parent)

    assert dropped
    assert not (project / "pkg").exists()
    assert git(project, "status", "--porcelain") == ""


def test_drop_rejects_edited_file(project):
    parent, fix = commit_fix(project, {"app.py": APP.replace("41", "42")})
    (project / "app.py").write_text("user edit\n")

    with pytest.raises(DirtyTreeError):
        drop(project, fix, parent)

    assert git(project, "rev-parse", "HEAD").strip() == fix
    assert (project / "app.py").read_text() == "user edit\n"


def test_drop_skips_moved_branch(project):
    parent, fix = commit_fix(project, {"app.py": APP.replace("41", "42")})
    git(project, "commit", "-q", "--allow-empty", "-m", "later")

    dropped = drop(project, fix, parent)

    assert not dropped
    assert git(project, "rev-list", "--count", f"{fix}..HEAD").strip() == "1"


def test_drop_finishes_half_done_drop(project):
    parent, fix = commit_fix(project, {"app.py": APP.replace("41", "42")})
    # A drop killed between its steps: the branch moved, the files did not.
    git(project, "update-ref", "refs/heads/main", parent, fix)

    dropped = drop(project, fix, parent)

    assert dropped
    assert (project / "app.py").read_text() == APP
    assert git(project, "status", "--porcelain") == ""
