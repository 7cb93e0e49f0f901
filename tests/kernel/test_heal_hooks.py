"""Commit hooks in agentos heal: run by default, skipped with --no-verify, failures shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.cli import main
from tests.conftest import git

CALC = "import os\n\n\ndef one():\n    return 1\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"
REJECT = "echo 'style check: calc.py needs a licence header' >&2\nexit 1\n"


@pytest.fixture
def project(make_repo) -> Path:
    return make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC})


def write_hook(root: Path, name: str, script: str) -> None:
    hook = root / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)


def heal(capsys, root: Path, *extra: str) -> tuple[int, dict, str]:
    code = main(
        ["heal", str(root), "--sandbox", "local", "--provider", "offline", "--json", *extra]
    )
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_passing_hook_runs(project, capsys):
    write_hook(project, "pre-commit", 'echo ran >> "$(git rev-parse --git-dir)/hook-ran"\n')

    code, report, _ = heal(capsys, project)

    assert code == 0
    assert report["faults"][0]["status"] == "healed"
    assert (project / ".git" / "hook-ran").read_text() == "ran\n"


def test_failing_hook_blocks_commit(project, capsys):
    write_hook(project, "pre-commit", REJECT)
    head = git(project, "rev-parse", "HEAD")

    code, report, err = heal(capsys, project)

    assert code == 1
    fault = report["faults"][0]
    assert fault["status"] == "unhealed"
    assert "needs a licence header" in fault["commit_output"]
    assert "needs a licence header" in fault["reason"]
    assert "needs a licence header" in err
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain") == ""
    assert (project / "calc.py").read_text() == CALC


def test_failing_commit_msg_hook_blocks_commit(project, capsys):
    write_hook(project, "commit-msg", "echo 'message lacks a ticket id' >&2\nexit 1\n")
    head = git(project, "rev-parse", "HEAD")

    code, report, err = heal(capsys, project)

    assert code == 1
    assert "message lacks a ticket id" in report["faults"][0]["commit_output"]
    assert "message lacks a ticket id" in err
    assert git(project, "rev-parse", "HEAD") == head


def test_no_verify_skips_failing_hook(project, capsys):
    write_hook(project, "pre-commit", REJECT)

    code, report, err = heal(capsys, project, "--no-verify")

    assert code == 0
    assert report["faults"][0]["status"] == "healed"
    assert "licence header" not in err
    assert "import os" not in (project / "calc.py").read_text()
