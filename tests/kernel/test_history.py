"""History of the tool's fixes, read from commit trailers in real repositories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kernel.gitops import Repository
from kernel.history import FixState, load_history
from tests.conftest import git
from tests.kernel.history_helpers import commit_fix

CALC = "def one():\n    return 1\n\n\ndef two():\n    return 2\n"
CALC_FIXED = "def one():\n    return 1\n\n\ndef two():\n    return 1 + 1\n"
UTIL = "import os\n\nVALUE = 3\n"


def history(root: Path, path: Path | None = None):
    repository = Repository.open(root)
    try:
        return load_history(repository, path)
    finally:
        repository.close()


def user_commit(root: Path, path: str, text: str, message: str = "edit by hand") -> str:
    (root / path).write_text(text)
    git(root, "commit", "-q", "-am", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC, "util.py": UTIL})


def test_fixes_listed_newest_first(repo):
    first = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    second = commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002", tokens=120)

    fixes = history(repo)

    assert [fix.commit for fix in fixes] == [second, first]
    assert fixes[0].fault_id == "bbbb00000002"
    assert fixes[0].files == ("util.py",)
    assert fixes[0].provider == "offline"
    assert fixes[0].model is None
    assert fixes[0].tokens == 120
    assert fixes[1].tokens == 0
    assert fixes[1].validation == "2 passed, 0 failed; target fixed"
    assert all(fix.state is FixState.KEPT for fix in fixes)


def test_user_commits_are_not_fixes(repo):
    user_commit(repo, "calc.py", CALC_FIXED, "fix: my own fix")

    assert history(repo) == []


def test_history_without_records_folder(repo):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    (repo / ".agentos").mkdir()
    shutil.rmtree(repo / ".agentos")

    fixes = history(repo)

    assert [fix.commit for fix in fixes] == [sha]
    assert fixes[0].fault_kind is None


def test_record_enriches_fix(repo):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001", heal_id="20250102T030405Z-abc123")
    folder = repo / ".agentos" / "heals"
    folder.mkdir(parents=True)
    record = {
        "heal_id": "20250102T030405Z-abc123",
        "faults": [
            {
                "id": "aaaa00000001",
                "kind": "test",
                "summary": "test_two failed",
                "usage": {"total_tokens": 900},
                "cost": 0.0021,
                "seconds": 12.5,
                "attempts": [],
            }
        ],
    }
    (folder / "20250102T030405Z-abc123.json").write_text(json.dumps(record))

    fix = history(repo)[0]

    assert fix.fault_kind == "test"
    assert fix.fault_summary == "test_two failed"
    assert fix.tokens == 900
    assert fix.cost == 0.0021
    assert fix.seconds == 12.5


def test_rebased_fix_keeps_identity(repo):
    git(repo, "checkout", "-q", "-b", "work")
    old = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    git(repo, "checkout", "-q", "main")
    user_commit(repo, "util.py", UTIL + "OTHER = 4\n", "upstream change")
    git(repo, "checkout", "-q", "work")
    git(repo, "rebase", "-q", "main")

    fixes = history(repo)

    assert len(fixes) == 1
    assert fixes[0].commit != old
    assert fixes[0].fault_id == "aaaa00000001"
    assert fixes[0].state is FixState.KEPT


def test_amended_fix_still_found(repo):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    (repo / "util.py").write_text(UTIL + "# note\n")
    git(repo, "commit", "-q", "-a", "--amend", "--no-edit")

    fixes = history(repo)

    assert [fix.fault_id for fix in fixes] == ["aaaa00000001"]
    assert fixes[0].files == ("calc.py", "util.py")


def test_user_git_revert_marks_reverted(repo):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    git(repo, "revert", "--no-edit", sha)
    revert = git(repo, "rev-parse", "HEAD").strip()

    fix = history(repo)[0]

    assert fix.state is FixState.REVERTED
    assert fix.state_commit == revert


def test_reapplied_fix_is_kept(repo):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    git(repo, "revert", "--no-edit", sha)
    git(repo, "revert", "--no-edit", "HEAD")

    assert history(repo)[0].state is FixState.KEPT


def test_revert_after_rebase_matched_by_subject(repo):
    git(repo, "checkout", "-q", "-b", "work")
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    git(repo, "revert", "--no-edit", sha)
    git(repo, "checkout", "-q", "main")
    user_commit(repo, "util.py", UTIL + "OTHER = 4\n", "upstream change")
    git(repo, "checkout", "-q", "work")
    git(repo, "rebase", "-q", "main")

    fix = history(repo)[0]

    assert fix.commit != sha
    assert fix.state is FixState.REVERTED


def test_hand_edit_of_fixed_line_marks_changed(repo):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    edit = user_commit(repo, "calc.py", CALC_FIXED.replace("1 + 1", "2 * 1"))

    fix = history(repo)[0]

    assert fix.state is FixState.CHANGED
    assert fix.state_commit == edit


def test_hand_edit_elsewhere_keeps_fix(repo):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    user_commit(repo, "calc.py", "# header\n" + CALC_FIXED)
    user_commit(repo, "util.py", UTIL + "MORE = 1\n")

    assert history(repo)[0].state is FixState.KEPT


def test_tool_edit_of_fixed_line_keeps_fix(repo):
    first = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    commit_fix(repo, "calc.py", CALC_FIXED.replace("1 + 1", "2"), "cccc00000003")

    by_commit = {fix.commit: fix for fix in history(repo)}

    assert by_commit[first].state is FixState.KEPT


def test_deletion_fix_changed_by_file_edit(repo):
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002")
    user_commit(repo, "util.py", "VALUE = 4\n")

    assert history(repo)[0].state is FixState.CHANGED


def test_history_filtered_by_path(repo):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002")

    fixes = history(repo, repo / "util.py")

    assert [fix.fault_id for fix in fixes] == ["bbbb00000002"]
