"""Fault injection: a heal stopped at any stage leaves the repository as it was, or with its fixes.

Each test pauses a real ``python -m kernel.cli heal`` subprocess at one stage
through the test-only AGENTOS_TEST_PAUSE_AT variable, sends a signal, and
compares the repository's full state before and after.
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

CALC = "import os\n\n\ndef one():\n    return 1\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"
STAGES = ["detect", "propose", "validate", "commit", "verify"]


def full_state(root: Path) -> dict:
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".agentos" not in path.parts
    }
    return {
        "files": files,
        "index": (root / ".git" / "index").read_bytes(),
        "HEAD": (root / ".git" / "HEAD").read_text(),
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "stash": git(root, "stash", "list"),
        "worktrees": git(root, "worktree", "list", "--porcelain").count("worktree "),
    }


@pytest.fixture
def project(make_repo) -> Path:
    root = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC, "notes.txt": "one\n"})
    (root / "notes.txt").write_text("stashed edit\n")
    git(root, "stash", "-q")
    (root / "scratch.txt").write_text("untracked notes\n")
    return root


def start_heal(root: Path, stage: str | None) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    if stage:
        env["AGENTOS_TEST_PAUSE_AT"] = stage
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kernel.cli",
            "heal",
            str(root),
            "--sandbox",
            "local",
            "--provider",
            "offline",
        ],
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


def assert_before_or_fixed(root: Path, before: dict) -> None:
    after = full_state(root)
    head_before = before["refs"].split("refs/heads/main ")[1].split()[0]
    head_after = git(root, "rev-parse", "main").strip()
    if head_after == head_before:
        assert after == before
        return
    # Exactly the accepted fix commits on top of the old HEAD, and nothing else changed.
    added = git(root, "rev-list", f"{head_before}..{head_after}").split()
    for sha in added:
        assert git(root, "log", "-1", "--format=%ae", sha).strip() == TOOL_EMAIL
    assert git(root, "diff", "--name-only", head_before, head_after).split() == ["calc.py"]
    for key in ("HEAD", "stash", "worktrees"):
        assert after[key] == before[key]
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    files_before = {k: v for k, v in before["files"].items() if k != "calc.py"}
    assert {k: v for k, v in after["files"].items() if k != "calc.py"} == files_before


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
