"""Helpers for fault-injection tests: start a real heal, pause it at a stage, compare state.

A heal is a ``python -m kernel.cli heal`` subprocess. With the test-only
AGENTOS_TEST_PAUSE_AT variable it stops at one stage, so a test can send it a
signal there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel.gitops import TOOL_EMAIL
from tests.conftest import git

# A pre-commit hook that changes the staged fix once, so the committed tree
# differs from the validated one: verification fails and the heal reverts.
# Later commits exit with the status given to install_hook.
BREAK_ONCE = (
    "#!/bin/sh\n"
    'done="$(git rev-parse --git-common-dir)/broken-once"\n'
    '[ -f "$done" ] && exit {later}\n'
    'touch "$done"\n'
    "sed -i 's/return 1/return 2/' calc.py\n"
    "git add calc.py\n"
)


def install_hook(root: Path, later_status: int = 0) -> None:
    """Install BREAK_ONCE as the pre-commit hook of ``root``."""
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(BREAK_ONCE.format(later=later_status))
    hook.chmod(0o755)


def full_state(root: Path) -> dict:
    """Return what a user could lose: files, index, HEAD, refs, stash and worktrees.

    The index is compared by content (``git ls-files --stage``), not by bytes:
    a file the tool wrote and put back has the same bytes but a new inode and
    time, which git caches in the index.
    """
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".agentos" not in path.parts
    }
    return {
        "files": files,
        "index": git(root, "ls-files", "--stage"),
        "staged": git(root, "diff", "--cached", "--binary"),
        "HEAD": (root / ".git" / "HEAD").read_text(),
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "stash": git(root, "stash", "list"),
        "worktrees": git(root, "worktree", "list", "--porcelain").count("worktree "),
    }


def start_heal(
    root: Path, stage: str | None, *extra: str, sandbox: str = "local"
) -> subprocess.Popen:
    """Start a heal of ``root`` that pauses at ``stage``; its standard error is a pipe."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("AGENTOS_TEST_PAUSE_AT", None)
    if stage:
        env["AGENTOS_TEST_PAUSE_AT"] = stage
    command = [sys.executable, "-m", "kernel.cli", "heal", str(root), "--sandbox", sandbox]
    return subprocess.Popen(
        [*command, "--provider", "offline", *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def wait_for_line(heal: subprocess.Popen, text: str) -> None:
    """Read the heal's standard error until a line contains ``text``; fail if it never does."""
    deadline = time.monotonic() + 120
    assert heal.stderr is not None
    seen = []
    for line in heal.stderr:
        if text in line:
            return
        seen.append(line)
        assert time.monotonic() < deadline, f"the heal never printed {text!r}"
    output = "".join(seen[-40:])
    pytest.fail(f"the heal ended before printing {text!r}; its standard error:\n{output}")


def wait_for_pause(heal: subprocess.Popen, stage: str) -> None:
    wait_for_line(heal, f"agentos-test-pause {stage}")


def assert_before_or_fixed(root: Path, before: dict) -> None:
    """Assert ``root`` is as ``before``, or has only the tool's fix commits for calc.py on top."""
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
