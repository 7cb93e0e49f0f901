"""Repository against real git repositories in temporary folders."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from kernel.errors import CommitRejected, DirtyTreeError, RepositoryError
from kernel.gitops import TOOL_EMAIL, TOOL_NAME, Repository
from tests.conftest import git

HOOK_MARKER = "hook-ran.txt"


def write_hook(root: Path, name: str, script: str) -> None:
    hook = root / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(0o755)


def index_state(root: Path) -> str:
    return git(root, "ls-files", "--stage")


def short_status(root: Path) -> str:
    return git(root, "status", "--porcelain=v1", "--untracked-files=all")


@pytest.fixture
def project(make_repo) -> Path:
    return make_repo(
        {
            "app.py": "def answer():\n    return 41\n",
            "notes.txt": "first line\n",
            "config.ini": "[main]\nlevel = 1\n",
            "pkg/util.py": "VALUE = 1\n",
        }
    )


# open


def test_open_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="does not exist"):
        Repository.open(tmp_path / "nowhere")


def test_open_plain_folder(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(RepositoryError, match="not inside a git repository"):
        Repository.open(folder)


def test_open_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(RepositoryError, match="bare repository"):
        Repository.open(bare)


def test_open_unborn_branch(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    with pytest.raises(RepositoryError, match="branch main .* no commits yet. Commit once first"):
        Repository.open(root)


def test_open_during_merge_conflict(project: Path) -> None:
    git(project, "checkout", "-q", "-b", "other")
    (project / "app.py").write_text("def answer():\n    return 43\n")
    git(project, "commit", "-q", "-am", "other answer")
    git(project, "checkout", "-q", "main")
    (project / "app.py").write_text("def answer():\n    return 42\n")
    git(project, "commit", "-q", "-am", "main answer")
    merge = subprocess.run(["git", "merge", "-q", "other"], cwd=project, capture_output=True)
    assert merge.returncode != 0, "the merge was expected to conflict"

    with pytest.raises(RepositoryError, match="a merge is in progress.*Finish or abort it first"):
        Repository.open(project)


def test_open_subdirectory_returns_top(project: Path) -> None:
    repository = Repository.open(project / "pkg")
    assert repository.root == project
    assert repository.head() == git(project, "rev-parse", "HEAD").strip()


def test_open_file_returns_top(project: Path) -> None:
    assert Repository.open(project / "pkg" / "util.py").root == project


def test_branch_detached_is_none(project: Path) -> None:
    repository = Repository.open(project)
    assert repository.branch() == "main"
    git(project, "checkout", "-q", "--detach")
    assert repository.branch() is None


# dirty detection


def test_dirty_paths_modified(project: Path) -> None:
    (project / "app.py").write_text("changed\n")
    assert Repository.open(project).dirty_paths() == ["app.py"]


def test_dirty_paths_staged(project: Path) -> None:
    (project / "notes.txt").write_text("staged\n")
    git(project, "add", "notes.txt")
    assert Repository.open(project).dirty_paths() == ["notes.txt"]


def test_dirty_paths_untracked_only_is_clean(project: Path) -> None:
    (project / "scratch.py").write_text("print('mine')\n")
    repository = Repository.open(project)
    assert repository.dirty_paths() == []
    repository.require_clean()


def test_require_clean_lists_paths(project: Path) -> None:
    (project / "app.py").write_text("changed\n")
    git(project, "mv", "notes.txt", "renamed.txt")
    with pytest.raises(DirtyTreeError, match="--allow-dirty") as raised:
        Repository.open(project).require_clean()
    assert raised.value.paths == ("app.py", "notes.txt", "renamed.txt")


# commit_files


def test_commit_files_commits_only_given_file(project: Path) -> None:
    (project / "notes.txt").write_text("unstaged edit\n")
    (project / "config.ini").write_text("[main]\nlevel = 2\n")
    git(project, "add", "config.ini")
    before = git(project, "rev-parse", "HEAD").strip()
    repository = Repository.open(project)

    sha = repository.commit_files({"app.py": "def answer():\n    return 42\n"}, "Fix answer")

    assert sha == git(project, "rev-parse", "HEAD").strip()
    assert git(project, "rev-parse", f"{sha}^").strip() == before
    assert git(project, "show", "--name-only", "--format=", sha).split() == ["app.py"]
    assert git(project, "show", f"{sha}:app.py") == "def answer():\n    return 42\n"
    assert (project / "notes.txt").read_bytes() == b"unstaged edit\n"
    assert (project / "config.ini").read_bytes() == b"[main]\nlevel = 2\n"
    assert short_status(project).splitlines() == ["M  config.ini", " M notes.txt"]


def test_commit_files_literal_pathspec(make_repo) -> None:
    root = make_repo({"a*.txt": "star\n", "ab.txt": "plain\n"})
    (root / "ab.txt").write_text("user edit\n")

    sha = Repository.open(root).commit_files({"a*.txt": "fixed star\n"}, "Fix star")

    assert git(root, "show", "--name-only", "--format=", sha).split() == ["a*.txt"]
    assert short_status(root).splitlines() == [" M ab.txt"]


def test_commit_files_new_file_in_new_folder(project: Path) -> None:
    sha = Repository.open(project).commit_files({"lib/deep/new.py": "X = 1\n"}, "Add module")
    assert git(project, "show", f"{sha}:lib/deep/new.py") == "X = 1\n"
    assert short_status(project) == ""


def test_commit_files_keeps_file_mode(make_repo) -> None:
    root = make_repo({"run.sh": "#!/bin/sh\necho one\n"})
    (root / "run.sh").chmod(0o755)
    git(root, "add", "run.sh")
    git(root, "commit", "-q", "-m", "executable")

    Repository.open(root).commit_files({"run.sh": "#!/bin/sh\necho two\n"}, "Echo two")

    assert stat.S_IMODE((root / "run.sh").stat().st_mode) == 0o755
    assert git(root, "ls-files", "--stage", "run.sh").startswith("100755")


def test_commit_files_tool_identity_without_user_config(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME", raising=False)
        monkeypatch.delenv(f"GIT_{role}_EMAIL", raising=False)
    git(project, "config", "--unset", "user.name")
    git(project, "config", "--unset", "user.email")
    git(project, "config", "user.useConfigOnly", "true")  # no identity guessed from the host

    sha = Repository.open(project).commit_files({"app.py": "fixed\n"}, "Fix answer")

    identity = git(project, "log", "-1", "--format=%an|%ae|%cn|%ce", sha).strip()
    assert identity == f"{TOOL_NAME}|{TOOL_EMAIL}|{TOOL_NAME}|{TOOL_EMAIL}"


def test_commit_files_failing_hook_restores_everything(project: Path) -> None:
    (project / "notes.txt").write_text("unstaged edit\n")
    (project / "config.ini").write_text("[main]\nlevel = 2\n")
    git(project, "add", "config.ini")
    write_hook(project, "pre-commit", "echo 'style check failed: app.py line 2'\nexit 1\n")
    head = git(project, "rev-parse", "HEAD").strip()
    index = index_state(project)
    status = short_status(project)
    repository = Repository.open(project)

    with pytest.raises(CommitRejected, match="hook") as raised:
        repository.commit_files({"app.py": "broken\n", "pkg/extra/new.py": "Y = 2\n"}, "Fix")

    assert "style check failed: app.py line 2" in raised.value.output
    assert "style check failed" in str(raised.value)
    assert git(project, "rev-parse", "HEAD").strip() == head
    assert index_state(project) == index
    assert short_status(project) == status
    assert (project / "app.py").read_bytes() == b"def answer():\n    return 41\n"
    assert (project / "notes.txt").read_bytes() == b"unstaged edit\n"
    assert (project / "config.ini").read_bytes() == b"[main]\nlevel = 2\n"
    assert not (project / "pkg" / "extra").exists()


def test_commit_files_no_verify_skips_hook(project: Path) -> None:
    write_hook(project, "pre-commit", "exit 1\n")
    repository = Repository.open(project)
    sha = repository.commit_files({"app.py": "fixed\n"}, "Fix", no_verify=True)
    assert sha == git(project, "rev-parse", "HEAD").strip()


def test_commit_files_passing_hook_runs(project: Path) -> None:
    write_hook(project, "pre-commit", f"echo ran > {HOOK_MARKER}\nexit 0\n")
    Repository.open(project).commit_files({"app.py": "fixed\n"}, "Fix")
    assert (project / HOOK_MARKER).read_text() == "ran\n"


def test_commit_files_hook_edit_leaves_index_clean(project: Path) -> None:
    write_hook(project, "pre-commit", "sed -i 's/42/43/' app.py\ngit add app.py\n")
    (project / "notes.txt").write_text("unstaged edit\n")

    sha = Repository.open(project).commit_files({"app.py": "ANSWER = 42\n"}, "Fix")

    assert git(project, "show", f"{sha}:app.py") == "ANSWER = 43\n"
    assert (project / "app.py").read_text() == "ANSWER = 43\n"
    assert short_status(project).splitlines() == [" M notes.txt"]


def test_commit_files_commit_msg_hook_sees_message(project: Path) -> None:
    write_hook(project, "commit-msg", f'cp "$1" {HOOK_MARKER}\n')
    Repository.open(project).commit_files({"app.py": "fixed\n"}, "Fix answer\n\nFault: f1\n")
    assert (project / HOOK_MARKER).read_text().startswith("Fix answer\n")


def test_commit_files_rejects_dirty_target(project: Path) -> None:
    (project / "app.py").write_text("user edit\n")
    head = git(project, "rev-parse", "HEAD").strip()

    with pytest.raises(DirtyTreeError, match="app.py") as raised:
        Repository.open(project).commit_files({"app.py": "fixed\n"}, "Fix")

    assert raised.value.paths == ("app.py",)
    assert (project / "app.py").read_text() == "user edit\n"
    assert git(project, "rev-parse", "HEAD").strip() == head


def test_commit_files_rejects_untracked_target(project: Path) -> None:
    (project / "scratch.py").write_text("mine\n")
    with pytest.raises(DirtyTreeError, match="scratch.py"):
        Repository.open(project).commit_files({"scratch.py": "theirs\n"}, "Add")
    assert (project / "scratch.py").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["../outside.py", "/tmp/absolute.py", ".git/config", ""])
def test_commit_files_rejects_unsafe_path(project: Path, name: str) -> None:
    with pytest.raises(RepositoryError, match="relative path inside"):
        Repository.open(project).commit_files({name: "x\n"}, "Escape")
    assert short_status(project) == ""


def test_commit_files_rejects_symlink(project: Path, tmp_path: Path) -> None:
    (project / "linked").symlink_to(tmp_path)
    with pytest.raises(RepositoryError, match="symbolic link"):
        Repository.open(project).commit_files({"linked/escape.py": "x\n"}, "Escape")
    assert not (tmp_path / "escape.py").exists()


def test_commit_files_unchanged_content(project: Path) -> None:
    with pytest.raises(RepositoryError, match="nothing to commit"):
        Repository.open(project).commit_files({"app.py": "def answer():\n    return 41\n"}, "Same")
    assert short_status(project) == ""


def test_commit_files_detached_head(project: Path) -> None:
    git(project, "checkout", "-q", "--detach")
    with pytest.raises(RepositoryError, match="detached"):
        Repository.open(project).commit_files({"app.py": "fixed\n"}, "Fix")


# revert


def test_revert_creates_commit_with_message(project: Path) -> None:
    repository = Repository.open(project)
    fix = repository.commit_files({"app.py": "fixed\n", "pkg/new.py": "N = 1\n"}, "Fix")
    (project / "notes.txt").write_text("unstaged edit\n")

    sha = repository.revert(fix, "Revert fix\n\nReason: verification failed\n")

    assert git(project, "log", "-1", "--format=%B", sha).strip() == (
        "Revert fix\n\nReason: verification failed"
    )
    identity = git(project, "log", "-1", "--format=%ae|%ce", sha).strip()
    assert identity == f"{TOOL_EMAIL}|{TOOL_EMAIL}"
    assert (project / "app.py").read_text() == "def answer():\n    return 41\n"
    assert not (project / "pkg" / "new.py").exists()
    assert (project / "notes.txt").read_bytes() == b"unstaged edit\n"
    assert short_status(project).splitlines() == [" M notes.txt"]
    assert not (project / ".git" / "REVERT_HEAD").exists()


def test_revert_conflict_leaves_tree(project: Path) -> None:
    repository = Repository.open(project)
    first = repository.commit_files({"app.py": "def answer():\n    return 42\n"}, "First")
    repository.commit_files({"app.py": "def answer():\n    return 43\n"}, "Second")
    (project / "notes.txt").write_text("unstaged edit\n")
    head = repository.head()

    with pytest.raises(RepositoryError, match="conflicts with later changes in app.py.*aborted"):
        repository.revert(first, "Revert first")

    assert repository.head() == head
    assert (project / "app.py").read_text() == "def answer():\n    return 43\n"
    assert (project / "notes.txt").read_bytes() == b"unstaged edit\n"
    assert short_status(project).splitlines() == [" M notes.txt"]
    assert not (project / ".git" / "REVERT_HEAD").exists()


def test_revert_rejects_staged_changes(project: Path) -> None:
    repository = Repository.open(project)
    fix = repository.commit_files({"app.py": "fixed\n"}, "Fix")
    (project / "notes.txt").write_text("staged edit\n")
    git(project, "add", "notes.txt")

    with pytest.raises(DirtyTreeError, match="staged changes in notes.txt"):
        repository.revert(fix, "Revert")

    assert repository.head() == fix
    assert short_status(project).splitlines() == ["M  notes.txt"]


def test_revert_failing_hook_restores(project: Path) -> None:
    repository = Repository.open(project)
    fix = repository.commit_files({"app.py": "fixed\n"}, "Fix")
    write_hook(project, "pre-commit", "echo no reverts today\nexit 1\n")

    with pytest.raises(CommitRejected) as raised:
        repository.revert(fix, "Revert")

    assert "no reverts today" in raised.value.output
    assert repository.head() == fix
    assert (project / "app.py").read_text() == "fixed\n"
    assert short_status(project) == ""
    assert not (project / ".git" / "REVERT_HEAD").exists()


def test_revert_unknown_commit(project: Path) -> None:
    with pytest.raises(RepositoryError, match="does not name a commit"):
        Repository.open(project).revert("0" * 40, "Revert")


# fix_worktree


def test_fix_worktree_commits_on_new_branch(project: Path) -> None:
    (project / "app.py").write_text("user's work in progress\n")
    (project / "config.ini").write_text("[main]\nlevel = 9\n")
    git(project, "add", "config.ini")
    status = short_status(project)
    repository = Repository.open(project)
    head = repository.head()

    with repository.fix_worktree("agentos/fix-1") as worktree:
        folder = worktree.root
        assert not folder.is_relative_to(project)
        assert worktree.branch() == "agentos/fix-1"
        assert (folder / "app.py").read_text() == "def answer():\n    return 41\n"
        sha = worktree.commit_files({"app.py": "def answer():\n    return 42\n"}, "Fix")

    assert not folder.exists()
    assert git(project, "rev-parse", "agentos/fix-1").strip() == sha
    assert git(project, "rev-parse", f"{sha}^").strip() == head
    assert repository.head() == head
    assert repository.branch() == "main"
    assert (project / "app.py").read_bytes() == b"user's work in progress\n"
    assert (project / "config.ini").read_bytes() == b"[main]\nlevel = 9\n"
    assert short_status(project) == status
    assert len(git(project, "worktree", "list", "--porcelain").split("worktree ")) == 2


def test_fix_worktree_removed_after_error(project: Path) -> None:
    branches = git(project, "branch", "--list")
    repository = Repository.open(project)
    with pytest.raises(RuntimeError), repository.fix_worktree("agentos/fix-2") as worktree:
        folder = worktree.root
        (folder / "app.py").write_text("left uncommitted\n")
        raise RuntimeError("heal failed")
    assert not folder.exists()
    assert git(project, "branch", "--list") == branches
    reflog = subprocess.run(["git", "reflog", "exists", "refs/heads/agentos/fix-2"], cwd=project)
    assert reflog.returncode == 1


def test_fix_worktree_error_keeps_fix_commits(project: Path) -> None:
    repository = Repository.open(project)
    with pytest.raises(KeyboardInterrupt), repository.fix_worktree("agentos/fix-3") as worktree:
        sha = worktree.commit_files({"app.py": "def answer():\n    return 42\n"}, "Fix")
        raise KeyboardInterrupt

    assert git(project, "rev-parse", "agentos/fix-3").strip() == sha


def test_fix_worktree_moved_branch_kept(project: Path) -> None:
    repository = Repository.open(project)
    with pytest.raises(KeyboardInterrupt), repository.fix_worktree("agentos/fix-4") as worktree:
        sha = worktree.commit_files({"app.py": "def answer():\n    return 42\n"}, "Fix")
        git(worktree.root, "reset", "-q", "--hard", "HEAD~1")
        git(worktree.root, "commit", "-q", "--allow-empty", "-m", "user's commit")
        raise KeyboardInterrupt

    kept = git(project, "rev-parse", "agentos/fix-4").strip()
    assert kept != sha
    assert git(project, "log", "-1", "--format=%s", kept).strip() == "user's commit"


def test_fix_worktree_existing_branch(project: Path) -> None:
    git(project, "branch", "taken")
    repository = Repository.open(project)
    with pytest.raises(RepositoryError, match="branch taken already exists"):
        with repository.fix_worktree("taken"):
            pass
    assert git(project, "branch", "--list", "taken").strip() == "taken"


def test_fix_worktree_invalid_branch(project: Path) -> None:
    with pytest.raises(RepositoryError, match="not a valid branch name"):
        with Repository.open(project).fix_worktree("bad..name"):
            pass


# exclude_agentos


def test_exclude_agentos_idempotent(project: Path) -> None:
    (project / ".gitignore").write_text("*.log")
    git(project, "add", ".gitignore")
    git(project, "commit", "-q", "-m", "ignore logs")
    exclude = project / ".git" / "info" / "exclude"
    exclude.write_text("# user's pattern\n*.bak")  # no final newline
    repository = Repository.open(project)

    repository.exclude_agentos()
    repository.exclude_agentos()

    lines = exclude.read_text().splitlines()
    assert lines.count("/.agentos/") == 1
    assert "*.bak" in lines
    assert (project / ".gitignore").read_text() == "*.log"
    (project / ".agentos").mkdir()
    (project / ".agentos" / "lock").write_text("{}")
    assert short_status(project) == ""


def test_exclude_agentos_creates_file(project: Path) -> None:
    info = project / ".git" / "info"
    for path in info.iterdir():
        path.unlink()
    info.rmdir()
    Repository.open(project).exclude_agentos()
    assert "/.agentos/" in (info / "exclude").read_text().splitlines()


def test_exclude_agentos_from_worktree_uses_common_dir(project: Path) -> None:
    with Repository.open(project).fix_worktree("agentos/fix-3") as worktree:
        worktree.exclude_agentos()
        assert not (worktree.root / ".git").is_dir()
    assert "/.agentos/" in (project / ".git" / "info" / "exclude").read_text().splitlines()


# archive


def test_archive_contains_tracked_files_only(project: Path) -> None:
    (project / "untracked.py").write_text("not in the snapshot\n")
    (project / "app.py").write_text("uncommitted edit\n")

    data = Repository.open(project).archive()

    assert isinstance(data, bytes)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        names = {member.name for member in archive.getmembers() if member.isfile()}
        app = archive.extractfile("app.py")
        assert app is not None
        assert app.read() == b"def answer():\n    return 41\n"
    assert names == {"app.py", "notes.txt", "config.ini", "pkg/util.py"}


def test_archive_of_older_commit(project: Path) -> None:
    repository = Repository.open(project)
    first = repository.head()
    repository.commit_files({"later.py": "L = 1\n"}, "Add later")
    with tarfile.open(fileobj=io.BytesIO(repository.archive(first))) as archive:
        assert "later.py" not in archive.getnames()


def test_archive_unknown_revision(project: Path) -> None:
    with pytest.raises(RepositoryError, match="does not name a commit"):
        Repository.open(project).archive("--output=/tmp/x")


# history


def test_commits_by_tool_newest_first(project: Path) -> None:
    repository = Repository.open(project)
    first = repository.commit_files({"app.py": "one\n"}, "First fix")
    (project / "notes.txt").write_text("by the user\n")
    git(project, "commit", "-q", "-am", "User commit")
    second = repository.commit_files({"app.py": "two\n"}, "Second fix\n\nbody\n")

    assert repository.commits_by_tool() == [(second, "Second fix"), (first, "First fix")]
    assert repository.commits_by_tool(limit=1) == [(second, "Second fix")]


def test_trailers_parsed(project: Path) -> None:
    message = (
        "Fix answer\n\nThe body explains: nothing here is a trailer.\n\n"
        "Agentos-Fault: tests/test_app.py::test_answer\n"
        "Agentos-Provider: offline\n"
        "Agentos-Validation: 3 passed,\n  0 failed\n"
    )
    sha = Repository.open(project).commit_files({"app.py": "fixed\n"}, message)

    assert Repository.open(project).trailers(sha) == {
        "Agentos-Fault": "tests/test_app.py::test_answer",
        "Agentos-Provider": "offline",
        "Agentos-Validation": "3 passed, 0 failed",
    }


def test_trailers_none(project: Path) -> None:
    repository = Repository.open(project)
    assert repository.trailers(repository.head()) == {}
