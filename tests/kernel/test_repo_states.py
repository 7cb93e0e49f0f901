"""Healing and reverting in unusual repository states: clear messages and no damage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kernel.cli import main
from kernel.gitops import TOOL_EMAIL, Repository
from kernel.repo_states import checkout_notes, protected_paths
from tests.conftest import git
from tests.kernel.history_helpers import commit_fix

CALC = "import os\n\n\ndef one():\n    return 1\n"
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"


@pytest.fixture
def project(make_repo) -> Path:
    return make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC})


def full_state(root: Path) -> dict[str, str]:
    return {
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": (root / ".git" / "HEAD").read_text() if (root / ".git").is_dir() else "",
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "diff": git(root, "diff", "HEAD"),
        "calc": (root / "calc.py").read_text(),
    }


def heal(capsys, path: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["heal", str(path), "--sandbox", "local", "--provider", "offline", *extra])
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())  # undo rich's line wrapping


def test_heal_detached_head_refused(project, capsys):
    git(project, "checkout", "-q", "--detach")
    before = full_state(project)

    code, _, err = heal(capsys, project)

    assert code == 2
    assert "detached" in err
    assert "--branch" in err
    assert full_state(project) == before


@pytest.mark.parametrize("operation", ["cherry-pick", "rebase", "merge"])
def test_heal_during_operation_refused(project, capsys, operation):
    git(project, "checkout", "-q", "-b", "side")
    (project / "calc.py").write_text(CALC.replace("1", "2"))
    git(project, "commit", "-q", "-am", "side change")
    git(project, "checkout", "-q", "main")
    (project / "calc.py").write_text(CALC.replace("1", "3"))
    git(project, "commit", "-q", "-am", "main change")
    command = {
        "cherry-pick": ["cherry-pick", "side"],
        "rebase": ["rebase", "side"],
        "merge": ["merge", "side"],
    }[operation]
    failed = os.system(f"cd {project} && git {' '.join(command)} >/dev/null 2>&1")
    assert failed != 0
    before = full_state(project)

    code, _, err = heal(capsys, project)

    assert code == 2
    assert "in progress" in err
    assert "--abort" in err
    assert full_state(project) == before


def test_heal_unborn_branch_refused(tmp_path, capsys):
    git(tmp_path, "init", "-q", "-b", "main")

    code, _, err = heal(capsys, tmp_path)

    assert code == 2
    assert "no commits yet" in err


def test_heal_bare_repository_refused(project, tmp_path, capsys):
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(project), str(bare))

    code, _, err = heal(capsys, bare)

    assert code == 2
    assert "bare repository" in err


def test_heal_plain_folder_refused(tmp_path, capsys):
    folder = tmp_path / "plain"
    folder.mkdir()

    code, _, err = heal(capsys, folder)

    assert code == 2
    assert "not inside a git repository" in err


def test_lfs_file_never_edited(make_repo, capsys):
    root = make_repo(
        {"calc.py": CALC, "test_calc.py": TEST_CALC, ".gitattributes": "calc.py filter=lfs\n"}
    )

    code, out, _ = heal(capsys, root, "--json")

    report = json.loads(out)
    assert code == 1
    assert (root / "calc.py").read_text() == CALC
    assert report["faults"][0]["status"] == "unhealed"
    assert "Git LFS" in report["faults"][0]["reason"]


def test_protected_paths_lists_lfs_and_submodule(make_repo, tmp_path):
    library = make_repo({"lib.py": "X = 1\n"})
    root = make_repo({"data.bin": "pointer\n", ".gitattributes": "*.bin filter=lfs\n"})
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor")
    git(root, "commit", "-q", "-m", "add submodule")
    repository = Repository.open(root)

    protected = dict(protected_paths(repository))

    assert set(protected) == {"data.bin", "vendor"}
    assert "Git LFS" in protected["data.bin"]
    assert "submodule" in protected["vendor"]


def test_heal_inside_submodule_warns(make_repo, capsys):
    library = make_repo({"calc.py": CALC, "test_calc.py": TEST_CALC})
    root = make_repo({"main.py": "X = 1\n"})
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor")
    git(root, "commit", "-q", "-m", "add submodule")
    inner = root / "vendor"
    git(inner, "config", "user.name", "Test User")
    git(inner, "config", "user.email", "test.user@example.com")
    outer_before = git(root, "rev-parse", "HEAD")

    code, _, err = heal(capsys, inner)

    assert code == 0, err
    assert "is a submodule of" in err
    assert "import os" not in (inner / "calc.py").read_text()
    assert git(inner, "log", "-1", "--format=%ae").strip() == TOOL_EMAIL
    assert git(root, "rev-parse", "HEAD") == outer_before


def test_heal_in_linked_worktree(project, tmp_path, capsys):
    linked = tmp_path / "linked"
    git(project, "worktree", "add", "-q", "-b", "feature", str(linked))
    main_before = full_state(project)

    code, _, err = heal(capsys, linked)

    assert code == 0, err
    assert "linked worktree" in err
    assert git(linked, "log", "-1", "--format=%ae").strip() == TOOL_EMAIL
    assert "import os" not in (linked / "calc.py").read_text()
    after = full_state(project)
    assert after["refs"] != main_before["refs"]  # the feature branch moved
    assert {k: v for k, v in after.items() if k != "refs"} == {
        k: v for k, v in main_before.items() if k != "refs"
    }
    assert git(project, "rev-parse", "main") in main_before["refs"]


def test_revert_without_git_identity(project, tmp_path, monkeypatch, capsys):
    sha = commit_fix(project, "calc.py", CALC.replace("import os\n\n\n", ""), "aaaa00000001")
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(project, "config", "--unset", "user.name")
    git(project, "config", "--unset", "user.email")
    git(project, "config", "user.useConfigOnly", "true")

    assert main(["revert", sha, "--repo", str(project)]) == 0

    assert git(project, "log", "-1", "--format=%ae").strip() == TOOL_EMAIL
    assert (project / "calc.py").read_text() == CALC


def test_checkout_notes_empty_for_plain_checkout(project):
    assert checkout_notes(Repository.open(project)) == []
