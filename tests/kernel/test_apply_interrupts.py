"""Fault injection for ``heal --apply-to-worktree``: the user's work survives every stop.

Each test pauses a real ``python -m kernel.cli heal`` subprocess at one stage
through the test-only AGENTOS_TEST_PAUSE_AT variable, sends a signal, and
compares the user's work before and after. The "apply" stage lies between
the fix commit and the writing of the user's files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel.gitops import TOOL_EMAIL
from tests.conftest import git

CALC = "import os\n\n\ndef one():\n    return 1\n\n\ndef two():\n    return 2\n"
CALC_USER = CALC + "\n\ndef three():\n    return 3  # my unsaved work\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"
STAGES = ["detect", "propose", "validate", "commit", "apply", "verify"]


@pytest.fixture
def project(make_repo) -> Path:
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC, "staged.txt": "committed\n"})
    (root / "staged.txt").write_text("staged edit\n")
    git(root, "stash", "-q")
    (root / "staged.txt").write_text("staged edit\n")
    git(root, "add", "staged.txt")
    (root / "calc.py").write_text(CALC_USER)
    (root / "scratch.txt").write_text("untracked notes\n")
    return root


def user_state(root: Path) -> dict:
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".agentos" not in path.parts
    }
    return {
        "files": files,
        "staged": git(root, "diff", "--cached", "--", ":!calc.py"),
        "index": [
            line for line in git(root, "ls-files", "-s").splitlines() if "calc.py" not in line
        ],
        "stash": git(root, "stash", "list", "--format=%H"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "worktrees": git(root, "worktree", "list", "--porcelain").count("worktree "),
    }


def start_heal(root: Path, stage: str | None) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    if stage:
        env["AGENTOS_TEST_PAUSE_AT"] = stage
    command = [sys.executable, "-m", "kernel.cli", "heal", str(root), "--apply-to-worktree"]
    return subprocess.Popen(
        [*command, "--sandbox", "local", "--provider", "offline"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def wait_for_pause(heal: subprocess.Popen, stage: str) -> None:
    deadline = time.monotonic() + 120
    assert heal.stderr is not None
    for line in heal.stderr:
        if f"agentos-test-pause {stage}" in line:
            return
        assert time.monotonic() < deadline, f"the heal never reached stage {stage}"
    pytest.fail(f"the heal ended before stage {stage}")


def assert_user_work_kept(root: Path, before: dict, start: str) -> None:
    """The user's work is intact, and HEAD has at most the fix commit on top of ``start``."""
    after = user_state(root)
    added = git(root, "rev-list", f"{start}..HEAD").split()
    assert len(added) <= 1
    for sha in added:
        assert git(root, "log", "-1", "--format=%ae", sha).strip() == TOOL_EMAIL
        assert git(root, "diff", "--name-only", start, sha).split() == ["calc.py"]
        assert git(root, "show", f"{sha}:calc.py") == CALC.replace("import os\n", "")
    calc = after["files"].pop("calc.py").decode()
    before_files = dict(before["files"])
    del before_files["calc.py"]
    assert calc in (CALC_USER, CALC_USER.replace("import os\n", ""))
    if calc != CALC_USER:
        assert added, "the fix was written to calc.py without its commit"
    assert after["files"] == before_files
    for key in ("staged", "index", "stash", "branch", "worktrees"):
        assert after[key] == before[key], key


@pytest.mark.parametrize("stage", STAGES)
def test_sigint_at_stage(project, stage):
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    heal = start_heal(project, stage)
    wait_for_pause(heal, stage)
    heal.send_signal(signal.SIGINT)
    heal.communicate(timeout=60)

    assert heal.returncode == 130
    assert_user_work_kept(project, before, start)
    if stage == "apply":
        assert git(project, "rev-parse", "HEAD").strip() == start
        assert (project / "calc.py").read_text() == CALC_USER
    assert not (project / ".agentos" / "lock").exists()


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_stage(project, stage):
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    heal = start_heal(project, stage)
    wait_for_pause(heal, stage)
    heal.kill()
    heal.communicate(timeout=60)

    assert_user_work_kept(project, before, start)
