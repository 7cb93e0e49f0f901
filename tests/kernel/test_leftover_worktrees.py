"""A fix worktree left by a killed heal is removed at the next start; the user's stay.

So is an empty fix branch whose worktree is gone, when it is surely the tool's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kernel.gitops import WORKTREE_PREFIX, Repository
from kernel.leftovers import left_worktrees, recover
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


# Empty fix branches whose worktree is gone

FIX_BRANCH = "agentos/fixes-20260101T000000Z-abcdef"


def leave_fix_branch(root: Path, tmp_path: Path, name: str = FIX_BRANCH) -> None:
    """Make ``name`` as a fix worktree does, then remove the worktree and keep the branch."""
    checkout = tmp_path / f"{WORKTREE_PREFIX}old" / root.name
    start = git(root, "rev-parse", "HEAD").strip()
    git(root, "worktree", "add", "-q", "-b", name, str(checkout), start)
    git(root, "worktree", "remove", str(checkout))


def recover_notes(root: Path) -> list[str]:
    repository = Repository.open(root)
    try:
        return recover(repository)
    finally:
        repository.close()


def test_empty_fix_branch_deleted(project, tmp_path):
    leave_fix_branch(project, tmp_path)
    before = full_state(project)

    notes = recover_notes(project)

    assert notes == [f"deleted the branch {FIX_BRANCH} of an earlier heal, which had no commits"]
    assert git(project, "branch", "--list", FIX_BRANCH) == ""
    after = full_state(project)
    assert after["files"] == before["files"]
    assert after["index"] == before["index"]
    assert after["worktrees"] == before["worktrees"]


def test_killed_heal_gone_folder_branch_deleted(project):
    branches = git(project, "branch", "--list")
    heal = start_heal(project, "validate", "--allow-dirty")
    wait_for_pause(heal, "validate")
    heal.kill()
    heal.communicate(timeout=60)
    [left] = tool_checkouts(project)
    branch = git(left, "rev-parse", "--abbrev-ref", "HEAD").strip()
    shutil.rmtree(left.parent)  # as a cleaner of the temporary folder would

    again = start_heal(project, None, "--dry-run")
    _, stderr = again.communicate(timeout=300)

    assert again.returncode == 0, stderr
    assert f"deleted the branch {branch} of an earlier heal" in stderr
    assert git(project, "branch", "--list") == branches
    assert tool_checkouts(project) == []


def test_fix_branch_with_commit_kept(project, tmp_path):
    leave_fix_branch(project, tmp_path)
    checkout = tmp_path / "fix-checkout"
    git(project, "worktree", "add", "-q", str(checkout), FIX_BRANCH)
    git(checkout, "commit", "-q", "--allow-empty", "-m", "a fix")
    git(project, "worktree", "remove", str(checkout))

    notes = recover_notes(project)

    assert notes == []
    assert git(project, "branch", "--list", FIX_BRANCH).strip() == FIX_BRANCH


def test_moved_back_fix_branch_kept(project, tmp_path):
    leave_fix_branch(project, tmp_path)
    start = git(project, "rev-parse", FIX_BRANCH).strip()
    git(project, "commit", "-q", "--allow-empty", "-m", "user's commit")
    git(project, "branch", "-f", FIX_BRANCH, "main")
    git(project, "branch", "-f", FIX_BRANCH, start)

    notes = recover_notes(project)

    assert notes == []
    assert git(project, "branch", "--list", FIX_BRANCH).strip() == FIX_BRANCH


@pytest.mark.parametrize(
    "name", ["agentos/interrupted", "agentos/fixes-mine", "fixes-20260101T000000Z-abcdef"]
)
def test_other_branch_names_kept(project, tmp_path, name):
    leave_fix_branch(project, tmp_path, name)

    notes = recover_notes(project)

    assert notes == []
    assert git(project, "branch", "--list", name).strip() == name


def test_fix_branch_without_reflog_kept(project):
    git(project, "-c", "core.logAllRefUpdates=false", "branch", FIX_BRANCH)

    notes = recover_notes(project)

    assert notes == []
    assert git(project, "branch", "--list", FIX_BRANCH).strip() == FIX_BRANCH


def test_fix_branch_checked_out_kept(project, tmp_path):
    git(project, "worktree", "add", "-q", "-b", FIX_BRANCH, str(tmp_path / "mine"))

    notes = recover_notes(project)

    assert notes == []
    assert git(project, "branch", "--list", FIX_BRANCH).strip().endswith(FIX_BRANCH)


def test_fix_branch_only_ref_to_commit_kept(project, tmp_path):
    git(project, "commit", "-q", "--allow-empty", "-m", "dropped later")
    leave_fix_branch(project, tmp_path)
    git(project, "reset", "-q", "--soft", "HEAD~1")

    notes = recover_notes(project)

    assert notes == []
    assert git(project, "branch", "--list", FIX_BRANCH).strip() == FIX_BRANCH
