"""Fault injection: a heal stopped at any stage leaves the repository as it was, or with its fixes.

Each test pauses a real ``python -m kernel.cli heal`` subprocess at one stage
through the test-only AGENTOS_TEST_PAUSE_AT variable, sends a signal, and
compares the repository's full state before and after.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git
from tests.kernel.fault_injection import (
    assert_before_or_fixed,
    full_state,
    install_hook,
    start_heal,
    wait_for_pause,
)

CALC = "import os\n\n\ndef one():\n    return 1\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"
STAGES = ["detect", "propose", "validate", "commit", "verify"]


@pytest.fixture
def project(make_repo) -> Path:
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC, "notes.txt": "one\n"})
    (root / "notes.txt").write_text("stashed edit\n")
    git(root, "stash", "-q")
    (root / "scratch.txt").write_text("untracked notes\n")
    return root


@pytest.fixture
def dirty_project(make_repo) -> Path:
    """A repository with an unstaged edit, so --allow-dirty heals on a new branch."""
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC, "notes.txt": "one\n"})
    (root / "notes.txt").write_text("unsaved edit\n")
    (root / "scratch.txt").write_text("untracked notes\n")
    return root


@pytest.mark.parametrize(
    ("stage", "signal_number"),
    [
        ("detect", signal.SIGINT),
        ("validate", signal.SIGINT),
        ("commit", signal.SIGINT),
        ("validate", signal.SIGTERM),
    ],
)
def test_signal_allow_dirty_leaves_no_branch(dirty_project, stage, signal_number):
    before = full_state(dirty_project)
    branches = git(dirty_project, "branch", "--list")

    heal = start_heal(dirty_project, stage, "--allow-dirty")
    wait_for_pause(heal, stage)
    heal.send_signal(signal_number)
    _, stderr = heal.communicate(timeout=60)

    assert heal.returncode == 130, stderr
    assert git(dirty_project, "branch", "--list") == branches
    assert full_state(dirty_project) == before
    assert not (dirty_project / ".agentos" / "lock").exists()


def test_sigint_allow_dirty_at_verify_keeps_branch(dirty_project):
    before = full_state(dirty_project)
    branches = git(dirty_project, "branch", "--list")

    heal = start_heal(dirty_project, "verify", "--allow-dirty")
    wait_for_pause(heal, "verify")
    heal.send_signal(signal.SIGINT)
    _, stderr = heal.communicate(timeout=60)

    assert heal.returncode == 130, stderr
    [branch] = [
        line.strip()
        for line in git(dirty_project, "branch", "--list").splitlines()
        if line not in branches.splitlines()
    ]
    sha = git(dirty_project, "rev-parse", branch).strip()
    assert git(dirty_project, "rev-list", "--count", f"main..{branch}").strip() == "1"
    message = " ".join(stderr.split())
    assert f"Kept on branch {branch}, outside your checkout: {sha[:12]}" in message
    assert "its verification did not finish" in message
    assert f"git branch -D {branch}" in message
    after = full_state(dirty_project)
    for key in ("files", "index", "staged", "HEAD", "stash", "worktrees"):
        assert after[key] == before[key], key


def test_sigint_at_verify_names_kept_fix(project):
    heal = start_heal(project, "verify")
    wait_for_pause(heal, "verify")
    heal.send_signal(signal.SIGINT)
    _, stderr = heal.communicate(timeout=60)

    assert heal.returncode == 130, stderr
    sha = git(project, "rev-parse", "main").strip()
    message = " ".join(stderr.split())
    assert f"Kept on branch main: {sha[:12]} (validated, but its verification" in message
    assert f"'agentos show {sha[:12]}'" in message
    assert f"'agentos undo' or 'git revert {sha[:12]}'" in message
    [record_path] = (project / ".agentos" / "heals").glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["interrupted"] is True
    [entry] = record["faults"]
    assert entry["status"] == "unverified"
    assert entry["commit"] == sha
    assert entry["diff"]


def test_history_after_interrupt_shows_fault(project):
    heal = start_heal(project, "verify")
    wait_for_pause(heal, "verify")
    heal.send_signal(signal.SIGINT)
    heal.communicate(timeout=60)

    listed = subprocess.run(
        [sys.executable, "-m", "kernel.cli", "history", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )

    [fix] = json.loads(listed.stdout)
    assert fix["fault"]["kind"] == "lint"
    assert "`os` imported but unused" in fix["fault"]["summary"]
    assert fix["subject"] != fix["fault"]["summary"]


@pytest.mark.parametrize("stage", STAGES)
def test_sigint_at_stage(project, stage):
    before = full_state(project)

    heal = start_heal(project, stage)
    wait_for_pause(heal, stage)
    heal.send_signal(signal.SIGINT)
    heal.communicate(timeout=60)

    assert heal.returncode == 130
    assert_before_or_fixed(project, before)
    assert not (project / ".agentos" / "lock").exists()


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_stage_then_recover(project, stage):
    before = full_state(project)

    heal = start_heal(project, stage)
    wait_for_pause(heal, stage)
    heal.kill()
    heal.communicate(timeout=60)

    assert_before_or_fixed(project, before)
    again = start_heal(project, None)
    _, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert "import os" not in (project / "calc.py").read_text()
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(project, "stash", "list") == before["stash"]
    assert (project / "scratch.txt").read_text() == "untracked notes\n"


def test_sigint_at_revert_drops_fix(project):
    install_hook(project)
    before = full_state(project)

    heal = start_heal(project, "revert")
    wait_for_pause(heal, "revert")
    heal.send_signal(signal.SIGINT)
    _, stderr = heal.communicate(timeout=60)

    assert heal.returncode == 130
    assert "so it was removed from branch main" in stderr
    assert full_state(project) == before
    assert not (project / ".agentos" / "lock").exists()
    assert not (project / ".agentos" / "revert-journal.json").exists()


def test_sigkill_at_revert_then_recover(project):
    install_hook(project)
    before = full_state(project)

    heal = start_heal(project, "revert")
    wait_for_pause(heal, "revert")
    heal.kill()
    heal.communicate(timeout=60)
    unverified = git(project, "rev-parse", "main").strip()
    again = start_heal(project, None, "--dry-run")
    _, stderr = again.communicate(timeout=300)

    assert unverified not in before["refs"]
    assert "finished the interrupted heal" in stderr
    assert f"its fix {unverified[:12]} failed verification" in stderr
    assert full_state(project) == before
    assert not (project / ".agentos" / "revert-journal.json").exists()


def test_rejected_revert_drops_fix(project):
    # The hook breaks the fix, then rejects every later commit: the revert's too.
    install_hook(project, later_status=1)
    before = full_state(project)

    heal = start_heal(project, None)
    _, stderr = heal.communicate(timeout=300)

    assert heal.returncode == 2, stderr
    assert "git commit failed" in stderr
    assert full_state(project) == before
    assert not (project / ".agentos" / "revert-journal.json").exists()
