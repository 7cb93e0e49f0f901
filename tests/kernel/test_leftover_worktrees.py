"""A fix worktree left by a killed heal is removed at the next start; the user's stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.gitops import WORKTREE_PREFIX, Repository
from kernel.leftovers import left_worktrees
from tests.conftest import git
from tests.kernel.fault_injection import full_state, install_hook, start_heal, wait_for_pause

CALC = "import os\n\n\ndef one():\n    return 1\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"


@pytest.fixture
def project(make_repo, tmp_path) -> Path:
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC, "notes.txt": "one\n"})
    (root / "notes.txt").write_text("unsaved edit\n")
    (root / "scratch.txt").write_text("untracked notes\n")
    git(root, "worktree", "add", "-q", "-b", "user-branch", str(tmp_path / "user-worktree"))
    return root


def tool_checkouts(root: Path) -> list[Path]:
    listing = git(root, "worktree", "list", "--porcelain").splitlines()
    paths = [Path(line.split(" ", 1)[1]) for line in listing if line.startswith("worktree ")]
    return [path for path in paths if path.parent.name.startswith(WORKTREE_PREFIX)]


@pytest.mark.parametrize(("stage", "commits"), [("validate", 0), ("verify", 1)])
def test_killed_heal_worktree_removed(project, tmp_path, stage, commits):
    before = full_state(project)

    heal = start_heal(project, stage, "--allow-dirty")
    wait_for_pause(heal, stage)
    heal.kill()
    heal.communicate(timeout=60)
    [left] = tool_checkouts(project)
    branch = git(left, "rev-parse", "--abbrev-ref", "HEAD").strip()
    again = start_heal(project, None, "--dry-run")
    _, stderr = again.communicate(timeout=300)

    assert f"removed the worktree {left}" in stderr
    assert tool_checkouts(project) == []
    assert not left.parent.exists()
    assert (tmp_path / "user-worktree" / "calc.py").exists()
    after = full_state(project)
    assert after["files"] == before["files"]
    assert after["index"] == before["index"]
    assert after["worktrees"] == before["worktrees"]
    listed = git(project, "branch", "--list", branch).strip()
    if commits:
        assert listed
        assert git(project, "rev-list", "--count", f"main..{branch}").strip() == str(commits)
    else:
        assert listed == ""
        assert after["refs"] == before["refs"]


def test_live_owner_worktree_kept(make_repo):
    repository = Repository.open(make_repo({"calc.py": CALC}))

    with repository.fix_worktree("agentos/live") as worktree:
        found = left_worktrees(repository)
        assert worktree.root.is_dir()

    repository.close()
    assert found == []


def test_prefixed_user_worktree_kept(make_repo, tmp_path):
    root = make_repo({"calc.py": CALC})
    checkout = tmp_path / f"{WORKTREE_PREFIX}mine" / "checkout"
    git(root, "worktree", "add", "-q", "-b", "mine", str(checkout))
    repository = Repository.open(root)

    found = left_worktrees(repository)

    repository.close()
    assert found == []
    assert checkout.is_dir()


def test_killed_revert_in_worktree_undone(project):
    install_hook(project)
    before = full_state(project)

    heal = start_heal(project, "revert", "--allow-dirty")
    wait_for_pause(heal, "revert")
    heal.kill()
    heal.communicate(timeout=60)
    [left] = tool_checkouts(project)
    again = start_heal(project, None, "--dry-run")
    _, stderr = again.communicate(timeout=300)

    assert "finished the interrupted heal" in stderr
    assert f"removed the worktree {left}" in stderr
    assert "which had no commits" in stderr
    assert full_state(project) == before
