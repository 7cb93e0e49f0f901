"""agentos history, show, revert, undo and stats through the CLI on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.cli import main
from tests.conftest import git
from tests.kernel.history_helpers import commit_fix

CALC = "def one():\n    return 1\n\n\ndef two():\n    return 2\n"
CALC_FIXED = "def one():\n    return 1\n\n\ndef two():\n    return 1 + 1\n"
UTIL = "import os\n\nVALUE = 3\n"
HEAL = "20250102T030405Z-abc123"


@pytest.fixture
def repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC, "util.py": UTIL})


def run_json(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def repository_state(root: Path) -> dict[str, str]:
    return {
        "head": git(root, "rev-parse", "HEAD"),
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "diff": git(root, "diff", "HEAD"),
        "index": (root / ".git" / "index").read_bytes().hex(),
    }


def write_record(root: Path, fault_id: str, **extra) -> None:
    folder = root / ".agentos" / "heals"
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "id": fault_id,
        "kind": "lint",
        "summary": "F401 `os` imported but unused",
        "status": "healed",
        "usage": {"total_tokens": 40},
        "seconds": 3.0,
        "context": {"message": "`os` imported but unused", "frames": [], "output": ""},
        "attempts": [
            {
                "provider": "openai",
                "model": "m",
                "summary": "Drop all",
                "changed_lines": 9,
                "accepted": False,
                "reason": "2 tests failed",
                "diff": "--- a/util.py\n+++ b/util.py\n",
            },
            {
                "provider": "offline",
                "model": None,
                "summary": "Remove import",
                "changed_lines": 2,
                "accepted": True,
                "reason": "target fixed",
                "diff": "recorded accepted diff",
            },
        ],
        "diff": "recorded accepted diff",
        **extra,
    }
    record = {
        "heal_id": HEAL,
        "dry_run": False,
        "faults": [entry],
        "remaining": [{"id": "ffff00000009", "kind": "test", "summary": "test_x failed"}],
    }
    (folder / f"{HEAL}.json").write_text(json.dumps(record))


def test_history_json_lists_fixes(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")

    fixes = run_json(capsys, "history", str(repo), "--json")

    assert [fix["commit"] for fix in fixes] == [sha]
    assert fixes[0]["state"] == "kept"
    assert fixes[0]["files"] == ["calc.py"]
    assert fixes[0]["fault"]["id"] == "aaaa00000001"


def test_history_filters_state_and_dates(repo, capsys):
    first = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002")
    git(repo, "revert", "--no-edit", first)

    reverted = run_json(capsys, "history", str(repo), "--json", "--state", "reverted")
    future = run_json(capsys, "history", str(repo), "--json", "--since", "2999-01-01")
    until_today = run_json(capsys, "history", str(repo), "--json", "--until", "2999-01-01")

    assert [fix["commit"] for fix in reverted] == [first]
    assert future == []
    assert len(until_today) == 2


def test_history_table_names_state(repo, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")

    assert main(["history", str(repo)]) == 0

    out = capsys.readouterr().out
    assert "aaaa00000001" in out
    assert "kept" in out


def test_show_from_commit_without_record(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")

    assert main(["show", sha[:8], "--repo", str(repo)]) == 0

    out = capsys.readouterr().out
    assert sha in out
    assert "+    return 1 + 1" in out
    assert "no heal record" in out


def test_show_from_record_lists_candidates(repo, capsys):
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002", heal_id=HEAL)
    write_record(repo, "bbbb00000002")

    assert main(["show", "bbbb00000002", "--repo", str(repo)]) == 0

    out = capsys.readouterr().out
    assert "context sent" in out
    assert "`os` imported but unused" in out
    assert "rejected openai/m: Drop all: 2 tests failed" in out
    assert "accepted offline: Remove import: target fixed" in out
    assert "recorded accepted diff" in out


def test_show_unknown_id_fails(repo, capsys):
    assert main(["show", "deadbeef", "--repo", str(repo)]) == 2
    assert "no fix or recorded fault matches" in capsys.readouterr().err


def test_revert_fix_by_fault_id(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")

    assert main(["revert", "aaaa00000001", "--repo", str(repo)]) == 0

    revert = git(repo, "rev-parse", "--short=12", "HEAD")
    assert f"reverted {sha[:12]}" in capsys.readouterr().out
    assert revert != sha[:12]
    assert (repo / "calc.py").read_text() == CALC
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)")
    assert f"Agentos-Reverts: {sha}" in trailers
    fixes = run_json(capsys, "history", str(repo), "--json")
    assert fixes[0]["state"] == "reverted"


def test_revert_conflict_changes_nothing(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    (repo / "calc.py").write_text(CALC_FIXED.replace("1 + 1", "3 - 1"))
    git(repo, "commit", "-q", "-am", "edit by hand")
    (repo / "util.py").write_text(UTIL + "# unsaved\n")
    before = repository_state(repo)

    code = main(["revert", sha, "--repo", str(repo)])

    assert code == 2
    assert "conflicts with later changes in calc.py" in capsys.readouterr().err
    assert repository_state(repo) == before


def test_revert_refuses_reverted_fix(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    git(repo, "revert", "--no-edit", sha)
    head = git(repo, "rev-parse", "HEAD")

    assert main(["revert", sha, "--repo", str(repo)]) == 2

    assert "already reverted" in capsys.readouterr().err
    assert git(repo, "rev-parse", "HEAD") == head


def test_undo_reverts_newest_live_fix(repo, capsys):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    newest = commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002")

    assert main(["undo", "--repo", str(repo)]) == 0
    assert main(["undo", "--repo", str(repo)]) == 0
    assert main(["undo", "--repo", str(repo)]) == 2

    assert (repo / "util.py").read_text() == UTIL
    assert (repo / "calc.py").read_text() == CALC
    assert newest in git(repo, "log", "-3", "--format=%B")


def test_undo_prints_revert_on_stdout(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")

    assert main(["undo", "--repo", str(repo)]) == 0

    captured = capsys.readouterr()
    revert = git(repo, "rev-parse", "--short=12", "HEAD")
    assert f"reverted {sha[:12]}" in captured.out
    assert f"with commit {revert}" in captured.out
    assert captured.err == ""


def test_stats_from_records(repo, capsys):
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002", heal_id=HEAL)
    write_record(repo, "bbbb00000002")

    stats = run_json(capsys, "stats", str(repo), "--json")

    assert stats["fixes"] == 1
    assert stats["faults_seen"] == 2
    assert stats["healed_share"] == 0.5
    assert stats["median_seconds"] == 3.0
    assert stats["tokens_per_fix"] == 40
    assert stats["faults_by_kind"] == {"lint": 1, "test": 1}
    assert stats["flaky_tests"] is None


def test_stats_without_records(repo, capsys):
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002")

    stats = run_json(capsys, "stats", str(repo), "--json")

    assert stats["fixes"] == 1
    assert stats["faults_seen"] is None
    assert stats["healed_share"] is None
    assert stats["faults_by_kind"] == {"unknown": 1}


def test_stats_lists_flaky_anomaly(repo, capsys):
    from kernel.run_history import record_test_run
    from sandbox.results import Outcome, RunStatus, TestResult, TestRun

    for outcome in (Outcome.PASSED, Outcome.FAILED):
        result = TestResult("test_calc.py::test_add", outcome, "call", 0.01)
        run = TestRun(RunStatus.COMPLETED, 0, {result.nodeid: result})
        record_test_run(repo, run, tree="same-tree", source="watch")

    stats = run_json(capsys, "stats", str(repo), "--json")

    [anomaly] = stats["anomalies"]
    assert anomaly["kind"] == "flaky"
    assert anomaly["subject"] == "test_calc.py::test_add"


def test_history_table_at_80_columns(repo, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    first = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    commit_fix(repo, "util.py", "VALUE = 3\n", "bbbb00000002")
    git(repo, "revert", "--no-edit", first)
    when = git(repo, "log", "-1", "--format=%cd", "--date=format:%Y-%m-%d", first).strip()

    assert main(["history", str(repo)]) == 0

    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    assert "reverted" in out
    assert when in out
    assert first[:12] in out


def test_undo_outside_repository_names_folder(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)

    assert main(["undo"]) == 2

    error = " ".join(capsys.readouterr().err.split())
    assert f"{folder} is not inside a git repository" in error


def test_history_missing_path_in_repository(repo, capsys, monkeypatch):
    commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    monkeypatch.chdir(repo)

    assert main(["history", "calc/nope.py"]) == 2

    error = " ".join(capsys.readouterr().err.split())
    assert f"no file or folder calc/nope.py in repository {repo}" in error
    assert "Pass the folder of a git repository" not in error


def test_history_deleted_file_still_filters(repo, capsys):
    sha = commit_fix(repo, "calc.py", CALC_FIXED, "aaaa00000001")
    git(repo, "rm", "-q", "calc.py")
    git(repo, "commit", "-q", "-m", "Remove calc")

    fixes = run_json(capsys, "history", str(repo / "calc.py"), "--json")

    assert [fix["commit"] for fix in fixes] == [sha]
