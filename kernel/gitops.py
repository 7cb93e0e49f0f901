"""Git operations on one checkout: its state, snapshots, and the tool's own commits.

Every operation runs the real git executable through GitPython, so the
repository's hooks, attributes and configuration apply as they would for the
user. A failing git command becomes a RepositoryError (or DirtyTreeError,
CommitRejected) that quotes git's message.

The tool commits under its own identity (TOOL_NAME, TOOL_EMAIL), set for author
and committer through the environment, so ``git log --author`` finds its commits
and a user without a git identity can still run it. Whatever fails, the user's
uncommitted changes are not staged, committed or overwritten by commit_files
or revert. Commits go through ``git commit --only`` with the tool's paths, and a
path with uncommitted changes is rejected before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git
from git.exc import GitCommandNotFound, InvalidGitRepositoryError, NoSuchPathError

from kernel.errors import CommitRejected, DirtyTreeError, RepositoryError
from kernel.files import replace_file

logger = logging.getLogger(__name__)

TOOL_NAME = "LLMAgentOS"
TOOL_EMAIL = (
    "agentos@llmagentos.invalid"  # .invalid is a reserved domain, so no mail reaches anyone
)

EXCLUDE_LINE = "/.agentos/"

# A fix worktree lives at <temporary folder>/<repository name>; the folder's
# name starts with WORKTREE_PREFIX and OWNER_FILE beside the checkout names the
# process that made it, so a later run can remove the worktree of a dead one.
WORKTREE_PREFIX = "agentos-worktree-"
OWNER_FILE = "agentos-owner.json"

_TOOL_IDENTITY = {
    "GIT_AUTHOR_NAME": TOOL_NAME,
    "GIT_AUTHOR_EMAIL": TOOL_EMAIL,
    "GIT_COMMITTER_NAME": TOOL_NAME,
    "GIT_COMMITTER_EMAIL": TOOL_EMAIL,
}

# git status would otherwise take the index lock to refresh it, and fail a
# concurrent git command of the user's.
_NO_OPTIONAL_LOCKS = {"GIT_OPTIONAL_LOCKS": "0"}

# Files git keeps in the git dir while an operation waits for the user:
# (file, operation, how to finish or abort it).
_OPERATIONS = (
    ("MERGE_HEAD", "a merge", "git merge --continue or git merge --abort"),
    ("rebase-merge", "a rebase", "git rebase --continue or git rebase --abort"),
    ("rebase-apply", "a rebase or git am", "git rebase --abort or git am --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue or git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue or git revert --abort"),
    ("BISECT_LOG", "a bisect", "git bisect reset"),
)


@dataclass(frozen=True)
class _Result:
    """Exit status and output of one git command."""

    status: int
    stdout: str | bytes
    stderr: str

    @property
    def output(self) -> str:
        stdout = self.stdout if isinstance(self.stdout, str) else ""
        return "\n".join(part for part in (stdout.strip(), self.stderr.strip()) if part)


class Repository:
    """One checkout: a main working tree or a linked worktree, opened with Repository.open."""

    def __init__(self, repo: git.Repo, root: Path) -> None:
        self._repo = repo
        self.root = root  # top of the work tree

    def __repr__(self) -> str:
        return f"Repository({str(self.root)!r})"

    @classmethod
    def open(cls, path: Path) -> Repository:
        """Open the checkout that contains ``path``; raise RepositoryError if it cannot be used.

        It cannot be used when the path is missing, outside any repository, in a
        bare repository, on a branch without commits, or while a merge, rebase,
        cherry-pick, revert or bisect is in progress.
        """
        # Absolute, so a message about "." names the folder the user is in.
        path = Path(path).expanduser().absolute()
        if not path.exists():
            raise RepositoryError(f"{path} does not exist. Pass the folder of a git repository.")
        start = path if path.is_dir() else path.parent

        try:
            probe = git.Repo(start, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError) as error:
            raise RepositoryError(
                f"{path} is not inside a git repository. Pass the folder of a git repository, "
                "or create one there with 'git init' and commit once."
            ) from error
        try:
            if probe.bare:
                raise RepositoryError(
                    f"{probe.git_dir} is a bare repository, which has no work tree to heal. "
                    "Clone it and pass the clone's folder."
                )
            status, toplevel, stderr = git.Git(start).rev_parse(
                "--show-toplevel", with_extended_output=True, with_exceptions=False
            )
        finally:
            probe.close()
        if status != 0:
            raise RepositoryError(
                f"{path} is not inside a git work tree ({stderr.strip()}). "
                "Pass a folder of the checkout, not of its .git folder."
            )

        root = Path(toplevel)
        repository = cls(git.Repo(root), root)
        try:
            repository._require_commits()
            repository._require_no_operation()
        except BaseException:
            repository.close()
            raise
        return repository

    def close(self) -> None:
        """Stop the git helper processes that GitPython keeps for this repository."""
        self._repo.close()

    # State

    def head(self) -> str:
        """Return the full sha of HEAD."""
        return self._git("rev-parse", "--verify", "HEAD^{commit}").strip()

    def branch(self) -> str | None:
        """Return the checked-out branch's short name, or None when HEAD is detached."""
        result = self._run("symbolic-ref", "--quiet", "--short", "HEAD")
        if result.status == 0:
            return str(result.stdout).strip()
        if result.status == 1:
            return None
        raise RepositoryError(f"git symbolic-ref HEAD failed in {self.root}: {result.output}")

    def dirty_paths(self) -> list[str]:
        """Return the tracked files with staged or unstaged changes, relative to the root, sorted.

        Untracked files are not listed: the kernel leaves them alone, and they are
        not part of snapshots, which contain committed files only.
        """
        output = self._git(
            "status", "--porcelain=v1", "-z", "--untracked-files=no", env=_NO_OPTIONAL_LOCKS
        )
        return _status_paths(output)

    def untracked_paths(self) -> list[str]:
        """Return the untracked files that no ignore rule matches, relative to the root, sorted."""
        output = self._git(
            "ls-files", "--others", "--exclude-standard", "-z", env=_NO_OPTIONAL_LOCKS
        )
        return sorted(_split_z(output))

    def changed_paths(self, old: str, new: str = "HEAD") -> list[str]:
        """Return the files that differ between commits ``old`` and ``new``, sorted."""
        output = self._git("diff", "--name-only", "-z", self._resolve_commit(old), new)
        return sorted(_split_z(output))

    def require_clean(self) -> None:
        """Raise DirtyTreeError if any tracked file has staged or unstaged changes."""
        dirty = self.dirty_paths()
        if dirty:
            raise DirtyTreeError(
                f"{self.root} has uncommitted changes in {_listing(dirty)}. Commit or stash "
                "them, or rerun with --allow-dirty to leave them alone and put fixes on a "
                "separate branch.",
                dirty,
            )

    def archive(self, rev: str = "HEAD") -> bytes:
        """Return the committed tree at ``rev`` as an uncompressed tar archive.

        NOTE: git archive applies the export-ignore and export-subst attributes,
        so files marked export-ignore in .gitattributes are missing from it.
        """
        commit = self._resolve_commit(rev)
        result = self._run("archive", "--format=tar", commit, binary=True)
        if result.status != 0 or not isinstance(result.stdout, bytes):
            raise RepositoryError(f"git archive {commit} failed in {self.root}: {result.stderr}")
        return result.stdout

    def exclude_agentos(self) -> None:
        """Add ``/.agentos/`` to the repository's info/exclude, once; .gitignore stays untouched.

        The file is in the common git dir, so the line also applies to every
        linked worktree of the repository.
        """
        common = Path(self._git("rev-parse", "--git-common-dir").strip())
        exclude = (common if common.is_absolute() else self.root / common) / "info" / "exclude"
        text = (
            exclude.read_text(encoding="utf-8", errors="surrogateescape")
            if exclude.exists()
            else ""
        )
        if EXCLUDE_LINE in (line.strip() for line in text.splitlines()):
            return

        exclude.parent.mkdir(parents=True, exist_ok=True)
        separator = "" if not text or text.endswith("\n") else "\n"
        with exclude.open("a", encoding="utf-8") as stream:
            stream.write(f"{separator}# lock and heal records of LLMAgentOS\n{EXCLUDE_LINE}\n")
        logger.info("added %s to %s", EXCLUDE_LINE, exclude)

    # Commits

    def commit_files(
        self, contents: Mapping[str, str], message: str, *, no_verify: bool = False
    ) -> str:
        """Write ``contents`` (relative path to text), commit exactly those paths, return the sha.

        The commit runs the repository's hooks unless ``no_verify``, and nothing
        else that is staged or modified goes into it. Raises DirtyTreeError when
        one of the paths has uncommitted changes or exists untracked, because the
        write would destroy them. When git commit fails, the files and the index
        are restored and CommitRejected carries git's and the hooks' output.
        """
        paths = [self._checked_path(name) for name in contents]
        if not paths:
            raise ValueError("commit_files needs at least one file")
        if len(set(paths)) != len(paths):
            raise RepositoryError(f"the same file is given twice among {_listing(list(contents))}.")
        self._require_branch("commit")
        self._require_no_operation()
        self._require_untouched(paths)

        before = self.head()
        saved = {path: _read_bytes(self.root / path) for path in paths}
        created: list[Path] = []
        try:
            for path, text in zip(paths, contents.values(), strict=True):
                created += _write_text(self.root / path, text)
            self._git("add", "--", *_literal(paths))
            if not self._git("diff", "--cached", "--name-only", "HEAD", "--", *_literal(paths)):
                raise RepositoryError(
                    f"nothing to commit in {self.root}: the new contents of {_listing(paths)} "
                    "are the same as in HEAD."
                )
            self._commit(message, no_verify, "--only", "--", *_literal(paths))
        except BaseException:
            # Once HEAD has moved the files are committed, and restoring them
            # would turn the commit into uncommitted changes.
            if self.head() == before:
                self._restore(paths, saved, created)
            raise

        after = self._moved_head(before, "commit")
        # With --only, a hook that edits and stages one of the paths updates the
        # commit but not the user's index, which would then show a staged undo.
        self._git("reset", "--quiet", "HEAD", "--", *_literal(paths))
        logger.info("committed %s on %s: %s", after[:12], self.branch(), _subject(message))
        return after

    # Commits built in a temporary index, for fixes applied to a dirty work tree

    def staged_paths(self) -> list[str]:
        """Return the files whose index entry differs from HEAD, relative to the root, sorted."""
        output = self._git("diff", "--cached", "--name-only", "-z", "HEAD", env=_NO_OPTIONAL_LOCKS)
        return sorted(_split_z(output))

    def tree_entry(self, rev: str, path: str) -> tuple[str, str] | None:
        """Return (mode, blob sha) of ``path`` in commit ``rev``, or None without such a file."""
        commit = self._resolve_commit(rev)
        output = self._git("ls-tree", "-z", commit, "--", *_literal([path]))
        for entry in _split_z(output):
            info, _, name = entry.partition("\t")
            mode, kind, blob = info.split()
            if name == path and kind == "blob":
                return mode, blob
        return None

    def write_blob(self, path: str, data: bytes) -> str:
        """Store ``data`` as the content of ``path`` the way git add would, and return its sha."""
        with tempfile.TemporaryDirectory(prefix="agentos-blob-") as folder:
            source = Path(folder) / "blob"
            source.write_bytes(data)
            return self._git("hash-object", "-w", f"--path={path}", "--", str(source)).strip()

    def commit_entries(
        self,
        entries: Mapping[str, tuple[str, str] | None],
        message: str,
        *,
        no_verify: bool = False,
    ) -> str:
        """Commit HEAD's tree with ``entries`` replacing those paths, and return the new sha.

        ``entries`` maps a path to (mode, blob sha), or to None to delete it.
        Like :meth:`commit_patch`, the commit is built in a temporary index.
        """
        paths = [self._checked_path(name) for name in entries]

        def stage(index: Mapping[str, str]) -> None:
            for path, entry in zip(paths, entries.values(), strict=True):
                if entry is None:
                    self._git("update-index", "--force-remove", "--", path, env=index)
                else:
                    mode, blob = entry
                    self._git("update-index", "--add", "--cacheinfo", mode, blob, path, env=index)

        return self._commit_in_temporary_index(stage, paths, message, no_verify)

    def commit_patch(
        self, diff: str, paths: list[str], message: str, *, no_verify: bool = False
    ) -> str:
        """Commit HEAD's tree with the unified ``diff`` applied, and return the new sha.

        ``paths`` lists the files the diff touches. The commit is built in a
        temporary index, so neither the work tree nor the user's index is read
        or written, and none of the user's staged or unstaged changes can reach
        the commit. Hooks run unless ``no_verify``, with GIT_INDEX_FILE naming
        the temporary index. Raises DirtyTreeError when the diff does not apply
        to HEAD, that is when its changed lines or the context lines around
        them differ in HEAD, and CommitRejected when git commit fails. HEAD
        has not moved in either case.
        """
        checked = [self._checked_path(name) for name in paths]

        def stage(index: Mapping[str, str]) -> None:
            with tempfile.TemporaryDirectory(prefix="agentos-patch-") as folder:
                patch = Path(folder) / "fix.patch"
                patch.write_text(diff, encoding="utf-8")
                result = self._run("apply", "--cached", "--", str(patch), env=index)
            if result.status != 0:
                raise DirtyTreeError(
                    f"the diff does not apply to HEAD's version of {_listing(checked)} in "
                    f"{self.root}: {result.output}",
                    checked,
                )

        return self._commit_in_temporary_index(stage, checked, message, no_verify)

    def _commit_in_temporary_index(
        self,
        stage: Callable[[Mapping[str, str]], None],
        paths: list[str],
        message: str,
        no_verify: bool,
    ) -> str:
        """Read HEAD into a temporary index, let ``stage`` change it, and commit that index."""
        self._require_branch("commit")
        self._require_no_operation()

        before = self.head()
        with tempfile.TemporaryDirectory(prefix="agentos-index-") as folder:
            index = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
            self._git("read-tree", before, env=index)
            stage(index)
            if not self._git("diff", "--cached", "--name-only", "HEAD", env=index):
                raise RepositoryError(
                    f"nothing to commit in {self.root}: {_listing(paths)} would be as in HEAD."
                )
            self._commit(message, no_verify, env=index)
        after = self._moved_head(before, "commit")
        logger.info("committed %s on %s: %s", after[:12], self.branch(), _subject(message))
        return after

    def reset_index_entries(self, paths: Iterable[str]) -> None:
        """Set the index entries of ``paths`` to HEAD's; the work tree is not touched."""
        self._git("reset", "--quiet", "HEAD", "--", *_literal(paths))

    def undo_commit(self, sha: str) -> None:
        """Move the current branch from ``sha`` back to its parent; only if it still points at sha.

        The work tree and the index are not touched. Raises RepositoryError when
        the branch has moved on, so a later commit of the user's is never dropped.
        """
        parent = self._resolve_commit(f"{sha}^")
        result = self._run("update-ref", "-m", "agentos: undo a fix", "HEAD", parent, sha)
        if result.status != 0:
            raise RepositoryError(
                f"cannot undo commit {sha[:12]} in {self.root}, because HEAD is no longer at it: "
                f"{result.output}. Check 'git log' and revert it by hand if you do not want it."
            )
        logger.info("undid commit %s on %s", sha[:12], self.branch())

    def revert(self, sha: str, message: str, *, no_verify: bool = False) -> str:
        """Commit the inverse of ``sha`` with ``message`` under the tool identity; return its sha.

        Raises DirtyTreeError when the index has staged changes or a file the
        revert touches has unstaged changes. When the revert conflicts, it is
        aborted, the work tree is left as before, and RepositoryError is raised.
        """
        commit = self._resolve_commit(sha)
        self._require_branch("revert")
        self._require_no_operation()
        self._require_revertable(commit)

        before = self.head()
        result = self._run("revert", "--no-commit", commit)
        if result.status != 0:
            conflicts = _split_z(self._git("diff", "--name-only", "--diff-filter=U", "-z"))
            self._abort_revert()
            reason = (
                f"it conflicts with later changes in {_listing(conflicts)}"
                if conflicts
                else f"git revert failed: {result.output}"
            )
            raise RepositoryError(
                f"cannot revert {commit[:12]} in {self.root}: {reason}. The revert was aborted "
                "and the work tree is as before. Revert it by hand with "
                f"'git revert {commit[:12]}'."
            )

        try:
            if not self._git("diff", "--cached", "--name-only", "HEAD"):
                raise RepositoryError(
                    f"reverting {commit[:12]} changes nothing in {self.root}, because its changes "
                    "are already undone. Nothing was committed."
                )
            self._commit(message, no_verify)
        except BaseException:
            if self.head() == before:
                self._abort_revert()
            raise

        after = self._moved_head(before, "revert")
        logger.info("reverted %s with %s on %s", commit[:12], after[:12], self.branch())
        return after

    @contextlib.contextmanager
    def fix_worktree(self, branch: str) -> Iterator[Repository]:
        """Yield a linked worktree on the new branch ``branch``, made from HEAD.

        The worktree lives in a temporary folder outside this work tree, so the
        user's files are never touched. On exit the worktree and its folder are
        removed, uncommitted changes in it included; the branch and its commits
        stay. When the block raises (an error, Ctrl-C, SIGTERM) and the branch
        has not moved from its start, the branch is deleted too, so interrupted
        heals do not pile up empty branches. Raises RepositoryError if the
        branch exists or its name is invalid.
        """
        self._require_new_branch(branch)
        start = self.head()
        folder = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
        if folder.resolve().is_relative_to(self.root.resolve()):
            folder.rmdir()
            raise RepositoryError(
                f"the temporary folder {folder} is inside {self.root}. "
                "Set TMPDIR to a folder outside the repository."
            )

        checkout = folder / self.root.name
        finished = False
        try:
            _write_owner(folder, branch, start)
            self._git("worktree", "add", "--quiet", "-b", branch, str(checkout), start)
            logger.info("created worktree %s on new branch %s at %s", checkout, branch, start[:12])
            worktree = Repository.open(checkout)
            try:
                yield worktree
            finally:
                worktree.close()
            finished = True
        finally:
            self.remove_worktree(checkout)
            shutil.rmtree(folder, ignore_errors=True)
            if not finished:
                self.delete_unmoved_branch(branch, start)

    def remove_worktree(self, checkout: Path) -> None:
        """Remove the linked worktree at ``checkout``, uncommitted changes in it included."""
        result = self._run("worktree", "remove", "--force", str(checkout))
        if result.status != 0 and checkout.exists():
            # git refuses to remove worktrees with submodules; delete the folder
            # and let prune forget the worktree.
            logger.warning("git worktree remove %s failed: %s", checkout, result.output)
            shutil.rmtree(checkout, ignore_errors=True)
        self._git("worktree", "prune")
        logger.info("removed worktree %s", checkout)

    def drop_commit(self, commit: str, parent: str) -> bool:
        """Move the current branch from ``commit`` back to ``parent``, as if never committed.

        Only the files that ``commit`` changed are put back, in the index and the
        work tree, so the user's other staged and unstaged changes stay as they
        are. Returns False and changes nothing when the branch no longer ends at
        ``commit``. Raises DirtyTreeError when a file of ``commit`` has changed
        since, because putting it back would discard that change.

        A drop that was killed after moving the branch is finished: the branch
        is at ``parent`` and the files of ``commit`` are still in the index.
        """
        branch = self.branch()
        commit, parent = self._resolve_commit(commit), self._resolve_commit(parent)
        paths = _split_z(self._git("diff", "--name-only", "--no-renames", "-z", parent, commit))
        head = self.head() if branch is not None else None
        if head == commit:
            # A killed 'git revert --no-commit' leaves its changes staged.
            self._abort_revert()
            self._require_untouched(paths)
            message = "agentos: drop unverified fix"
            self._git("update-ref", "-m", message, f"refs/heads/{branch}", parent, commit)
        elif head != parent or not self._has_files_of(commit, paths):
            return False

        present = _split_z(
            self._git("ls-tree", "-r", "-z", "--name-only", parent, "--", *_literal(paths))
        )
        if present:
            self._git("checkout", parent, "--", *_literal(present))
        absent = sorted(set(paths) - set(present))
        if absent:
            self._git("rm", "--quiet", "--force", "--", *_literal(absent))
        logger.info("dropped commit %s from %s in %s", commit[:12], branch, self.root)
        return True

    def _has_files_of(self, commit: str, paths: list[str]) -> bool:
        """Return whether the index and the work tree have ``commit``'s version of ``paths``."""
        differs = self._run("diff", "--quiet", commit, "--", *_literal(paths))
        staged = self._run("diff", "--quiet", "--cached", commit, "--", *_literal(paths))
        return differs.status == 0 and staged.status == 0

    def delete_branch(self, branch: str) -> None:
        """Delete the local branch ``branch``, merged or not; it must not be checked out."""
        self._git("branch", "--quiet", "-D", "--", branch)
        logger.info("deleted branch %s", branch)

    def delete_unmoved_branch(self, branch: str, start: str) -> bool:
        """Delete the local branch ``branch`` only while it still points at ``start``.

        git checks the branch's value and deletes it in one step, so a commit
        made on the branch meanwhile keeps it. Returns whether it was deleted.
        """
        message = "agentos: delete empty fix branch"
        result = self._run("update-ref", "-m", message, "-d", f"refs/heads/{branch}", start)
        if result.status != 0:
            logger.info("kept branch %s: it no longer points at %s", branch, start[:12])
            logger.debug("git update-ref -d %s: %s", branch, result.output)
            return False
        logger.info("deleted branch %s, which had no commits beyond %s", branch, start[:12])
        return True

    # History

    def commits_by_tool(self, limit: int = 50) -> list[tuple[str, str]]:
        """Return (sha, subject) of the newest ``limit`` commits that the tool authored."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        output = self._git(
            "log",
            f"--max-count={limit}",
            "--fixed-strings",
            f"--author=<{TOOL_EMAIL}>",
            "--format=%H%x1f%s",
            "HEAD",
        )
        commits = []
        for line in output.splitlines():
            sha, _, subject = line.partition("\x1f")
            commits.append((sha, subject))
        return commits

    def query(self, command: str, *arguments: str, accept: tuple[int, ...] = (0,)) -> str:
        """Return the output of a git command that changes no ref, index or file.

        Such commands are log, blame, diff-tree, merge-tree and commit-tree, which
        only adds an object. Raises RepositoryError with git's message when the
        exit status is not in ``accept``.
        """
        result = self._run(command, *arguments, env={**_NO_OPTIONAL_LOCKS, **_TOOL_IDENTITY})
        if result.status not in accept:
            raise RepositoryError(
                f"git {command} failed in {self.root} with exit status {result.status}: "
                f"{result.output}"
            )
        return str(result.stdout)

    def trailers(self, sha: str) -> dict[str, str]:
        """Return the trailers of commit ``sha``'s message, folded lines unfolded.

        A key that appears more than once keeps its last value.
        """
        commit = self._resolve_commit(sha)
        output = self._git("log", "-1", "--format=%(trailers:only,unfold)", commit)
        result: dict[str, str] = {}
        for line in output.splitlines():
            key, separator, value = line.partition(":")
            if separator:
                result[key.strip()] = value.strip()
        return result

    # Checks

    def _require_commits(self) -> None:
        if self._run("rev-parse", "--verify", "--quiet", "HEAD^{commit}").status == 0:
            return
        branch = self.branch() or "HEAD"
        raise RepositoryError(
            f"branch {branch} in {self.root} has no commits yet. Commit once first, then try again."
        )

    def _require_no_operation(self) -> None:
        names = [name for name, _, _ in _OPERATIONS]
        arguments = [argument for name in names for argument in ("--git-path", name)]
        locations = self._git("rev-parse", *arguments).splitlines()
        for (_, operation, advice), location in zip(_OPERATIONS, locations, strict=True):
            if (self.root / location).exists():
                raise RepositoryError(
                    f"{operation} is in progress in {self.root}. "
                    f"Finish or abort it first ({advice})."
                )

    def _require_branch(self, action: str) -> None:
        if self.branch() is None:
            raise RepositoryError(
                f"HEAD of {self.root} is detached at {self.head()[:12]}, so a {action} would go "
                "on no branch. Check out a branch first."
            )

    def _require_untouched(self, paths: list[str]) -> None:
        """Raise DirtyTreeError if a path has uncommitted changes or exists untracked or ignored."""
        output = self._git(
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignored=matching",
            "--",
            *_literal(paths),
            env=_NO_OPTIONAL_LOCKS,
        )
        touched = _status_paths(output)
        if touched:
            raise DirtyTreeError(
                f"the fix would overwrite uncommitted or untracked changes in {self.root}: "
                f"{_listing(touched)}. Commit, stash or move them, or rerun with --allow-dirty "
                "to put fixes on a separate branch.",
                touched,
            )

    def _require_revertable(self, commit: str) -> None:
        parents = self._git("rev-list", "--parents", "--max-count=1", commit).split()[1:]
        if len(parents) > 1:
            raise RepositoryError(
                f"{commit[:12]} is a merge commit, which agentos does not revert. "
                f"Revert it by hand with 'git revert -m 1 {commit[:12]}'."
            )

        # git revert --abort resets every staged change, and a revert commit
        # would include them, so the index must be clean.
        staged = _split_z(self._git("diff", "--cached", "--name-only", "-z", "HEAD"))
        if staged:
            raise DirtyTreeError(
                f"{self.root} has staged changes in {_listing(staged)}, which a revert would "
                "include or discard. Commit them or unstage them (git restore --staged PATH) "
                "first.",
                staged,
            )
        changed = self._git(
            "diff-tree", "--root", "--no-commit-id", "-r", "--name-only", "-z", commit
        )
        dirty = sorted(set(_split_z(changed)) & set(self.dirty_paths()))
        if dirty:
            raise DirtyTreeError(
                f"reverting {commit[:12]} would touch {_listing(dirty)}, which has uncommitted "
                f"changes in {self.root}. Commit or stash them first.",
                dirty,
            )

    def _require_new_branch(self, branch: str) -> None:
        valid = not branch.startswith("-") and (
            self._run("check-ref-format", "--branch", branch).status == 0
        )
        if not valid:
            raise RepositoryError(f"{branch!r} is not a valid branch name. Choose another name.")
        if self._run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}").status == 0:
            raise RepositoryError(
                f"branch {branch} already exists in {self.root}. Choose another name, "
                f"or delete it first (git branch -D {branch})."
            )

    def _checked_path(self, name: str) -> str:
        """Return ``name`` as a normalised relative path; raise RepositoryError if it is unsafe."""
        pure = PurePosixPath(name)
        unsafe = (
            pure.is_absolute()
            or not pure.parts
            or ".." in pure.parts
            or any(part.lower() == ".git" for part in pure.parts)
        )
        if unsafe:
            raise RepositoryError(
                f"cannot write {name!r}: a file to commit must be a relative path inside "
                f"{self.root} and outside .git."
            )
        current = self.root
        for part in pure.parts:
            current = current / part
            if current.is_symlink():
                raise RepositoryError(
                    f"cannot write {name!r} in {self.root}: {current} is a symbolic link, "
                    "and agentos writes only regular files."
                )
        return pure.as_posix()

    # Steps

    def _commit(
        self,
        message: str,
        no_verify: bool,
        *arguments: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Run git commit as the tool; raise CommitRejected with the output on failure."""
        flags = ["--quiet", "-m", message]
        if no_verify:
            flags.append("--no-verify")
        result = self._run("commit", *flags, *arguments, env={**_TOOL_IDENTITY, **(env or {})})
        if result.status != 0:
            raise CommitRejected(
                f"git commit failed in {self.root} with exit status {result.status}, most often "
                "because a hook rejected it; the files and the index are as before. Fix what the "
                "output reports, or skip the hooks with --no-verify. Output:\n"
                f"{_tail(result.output)}",
                output=result.output,
            )

    def _restore(
        self, paths: list[str], saved: dict[str, bytes | None], created: list[Path]
    ) -> None:
        """Put back the files and index entries of ``paths`` as they were before commit_files."""
        # The paths were unchanged against HEAD before (or absent from both), so
        # resetting their index entries to HEAD restores the index exactly.
        self._git("reset", "--quiet", "HEAD", "--", *_literal(paths))
        for path, data in saved.items():
            target = self.root / path
            if data is None:
                target.unlink(missing_ok=True)
            else:
                replace_file(target, data)
        for folder in reversed(created):
            with contextlib.suppress(OSError):  # not empty: something else was put there
                folder.rmdir()
        logger.info("restored %s in %s after the failed commit", _listing(paths), self.root)

    def _abort_revert(self) -> None:
        revert_head = self._git("rev-parse", "--git-path", "REVERT_HEAD").strip()
        if not (self.root / revert_head).exists():
            return  # git stopped before changing anything
        result = self._run("revert", "--abort")
        if result.status != 0:
            raise RepositoryError(
                f"git revert --abort failed in {self.root}: {result.output}. "
                "Run 'git revert --abort' yourself before anything else."
            )

    def _moved_head(self, before: str, action: str) -> str:
        after = self.head()
        if after == before:
            raise RepositoryError(
                f"git {action} succeeded in {self.root} but HEAD is still {before[:12]}. "
                "Check the repository's post-commit hook, which may have reset HEAD."
            )
        return after

    def _resolve_commit(self, rev: str) -> str:
        # A leading dash would make git read the revision as an option.
        result = (
            None
            if rev.startswith("-")
            else self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        )
        if result is None or result.status != 0:
            raise RepositoryError(
                f"{rev!r} does not name a commit in {self.root}. Pass a sha or branch."
            )
        return str(result.stdout).strip()

    # git

    def _run(
        self,
        command: str,
        *arguments: str,
        env: Mapping[str, str] | None = None,
        binary: bool = False,
    ) -> _Result:
        """Run ``git COMMAND ARGUMENTS`` in the root; return its status and output."""
        method = getattr(self._repo.git, command.replace("-", "_"))
        try:
            status, stdout, stderr = method(
                *arguments,
                env=env,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=not binary,
                strip_newline_in_stdout=False,
            )
        except GitCommandNotFound as error:
            raise RepositoryError(
                f"cannot run git ({error}). Install git and put it on PATH."
            ) from error
        return _Result(status, stdout, stderr)

    def _git(self, command: str, *arguments: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``git COMMAND ARGUMENTS`` and return its output; raise RepositoryError on failure."""
        result = self._run(command, *arguments, env=env)
        if result.status != 0:
            raise RepositoryError(
                f"git {command} failed in {self.root} with exit status {result.status}: "
                f"{result.output}"
            )
        return str(result.stdout)


def _literal(paths: Iterable[str]) -> list[str]:
    """Return pathspecs that match exactly these paths, even with * or ? in a name."""
    return [f":(literal){path}" for path in paths]


def _split_z(output: str) -> list[str]:
    return [field for field in output.split("\0") if field]


def _status_paths(output: str) -> list[str]:
    """Return the paths of ``git status --porcelain=v1 -z`` output, both sides of renames."""
    fields = output.split("\0")
    paths: set[str] = set()
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        paths.add(path)
        if "R" in code or "C" in code:
            paths.add(fields[index])  # the rename's or copy's source follows as its own field
            index += 1
    return sorted(paths)


def _listing(paths: list[str], limit: int = 10) -> str:
    listed = ", ".join(paths[:limit])
    remaining = len(paths) - limit
    return f"{listed} and {remaining} more" if remaining > 0 else listed


def _subject(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def _tail(output: str, lines: int = 40) -> str:
    output_lines = output.splitlines()
    if len(output_lines) <= lines:
        return output
    omitted = len(output_lines) - lines
    return "\n".join([f"[{omitted} earlier lines omitted]", *output_lines[-lines:]])


# Files


def _read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _write_text(target: Path, text: str) -> list[Path]:
    """Write ``text`` as UTF-8 to ``target``, keeping its mode; return the folders created."""
    missing = []
    parent = target.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    created = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        if target.exists():
            replace_file(target, text.encode("utf-8"))
        else:
            with target.open("x", encoding="utf-8", newline="") as stream:
                stream.write(text)
    except OSError as error:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise RepositoryError(
            f"cannot write {target}: {error}. Check the path and free space."
        ) from error
    return created


def _write_owner(folder: Path, branch: str, start: str) -> None:
    """Write OWNER_FILE into ``folder``: this process, the fix branch and its start commit."""
    owner = {
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "branch": branch,
        "start": start,
    }
    (folder / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")
