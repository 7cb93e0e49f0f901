"""Fixes applied to the user's own files: ``agentos heal --apply-to-worktree``.

The heal validates candidates on a snapshot of the working tree as it is, the
user's uncommitted edits included (:func:`working_snapshot`). An accepted fix
is then applied to the user's files and committed, under these rules:

================================================  ===========================================
a file the fix touches ...                        result
================================================  ===========================================
is as in HEAD                                     committed and written
has unstaged edits more than three lines away    committed as HEAD's text plus the fix only,
from the fix's changes                            and written as your edits plus the fix
has unstaged edits closer to the fix's changes    not applied (the fix cannot be separated)
has staged changes                                not applied (the index entry would mix both)
changed since the snapshot                        not applied, with the file names
================================================  ===========================================

"Not applied" raises FixNotApplied, and nothing in the repository changes.
The fix is committed before its files are written, and an interrupt between
the two undoes the commit. Only a SIGKILL there leaves the commit with the
user's files as they were, so ``git diff`` then shows the fix reversed.
The commit is built in a temporary index (:meth:`Repository.commit_patch`),
so staged changes of other files stay staged, and unstaged and untracked files
stay as they are, byte for byte.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from kernel.errors import DirtyTreeError, RepositoryError
from kernel.files import replace_file
from kernel.gitops import Repository
from kernel.interrupts import checkpoint
from patches.types import Candidate
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

_NEW_FILE_MODE = "100644"


class FixNotApplied(DirtyTreeError):
    """A validated fix was not applied, because a file it touches has changes it must not mix with.

    The repository is as it was, and ``paths`` names the files.
    """


def working_snapshot(repository: Repository) -> Snapshot:
    """Return HEAD with the changed tracked files and the untracked Python files laid over it.

    NOTE: a tracked file deleted in the working tree is still in the snapshot,
    because an overlay can only add or replace files.
    """
    paths = repository.dirty_paths() + [
        path for path in repository.untracked_paths() if path.endswith(".py")
    ]
    overlay = {
        path: (repository.root / path).read_bytes()
        for path in paths
        if (repository.root / path).is_file()
    }
    return Snapshot(repository.archive("HEAD"), overlay)


@dataclass(frozen=True)
class _Written:
    """One file the fix wrote: its bytes before (None: it did not exist) and after."""

    path: str
    before: bytes | None
    after: bytes


@dataclass
class WorktreeTarget:
    """Commits a fix as HEAD plus the fix, and writes it into the user's files."""

    repository: Repository
    _written: dict[str, tuple[_Written, ...]] = field(default_factory=dict)  # by fix commit sha

    def commit(
        self, candidate: Candidate, snapshot: Snapshot, message: str, no_verify: bool
    ) -> str:
        """Commit ``candidate`` and write it to the work tree; return the commit's sha.

        Raises FixNotApplied when a touched file changed since ``snapshot``,
        has staged changes, or has unstaged edits that overlap the fix.
        """
        self._require_unchanged(candidate, snapshot)
        self._require_unstaged(candidate)
        written = tuple(
            _Written(edit.path, snapshot.read(edit.path), edit.after.encode("utf-8"))
            for edit in candidate.edits
        )

        sha = self._commit_fix(candidate, message, no_verify)
        try:
            checkpoint("apply")
            # A commit hook may have edited the user's files meanwhile.
            self._require_unchanged(candidate, snapshot)
            for item in written:
                replace_file(self.repository.root / item.path, item.after)
            self.repository.reset_index_entries(candidate.paths)
        except BaseException:
            self._restore(written)
            self.repository.undo_commit(sha)
            self.repository.reset_index_entries(candidate.paths)
            raise
        self._written[sha] = written
        logger.info("applied %s to %s", sha[:12], ", ".join(candidate.paths))
        return sha

    def verify_snapshot(self, sha: str) -> Snapshot:
        """Return the tree to verify: the user's working tree, which now contains the fix."""
        return working_snapshot(self.repository)

    def revert(self, sha: str, message: str, no_verify: bool) -> str:
        """Commit the inverse of fix ``sha`` and put the user's files back as they were before it.

        A file edited since the fix was written keeps its bytes, and the
        warning names it; the revert commit is made either way.
        """
        written = self._written.pop(sha)
        entries = {item.path: self.repository.tree_entry(f"{sha}^", item.path) for item in written}
        if self.repository.head() != sha:
            raise RepositoryError(
                f"cannot revert {sha[:12]} in {self.root}: HEAD moved on to "
                f"{self.repository.head()[:12]}. Revert it by hand with 'git revert {sha[:12]}'."
            )
        revert_sha = self.repository.commit_entries(entries, message, no_verify=no_verify)
        self._restore(written)
        self.repository.reset_index_entries([item.path for item in written])
        return revert_sha

    @property
    def root(self) -> Path:
        return self.repository.root

    def _require_unchanged(self, candidate: Candidate, snapshot: Snapshot) -> None:
        changed = []
        for edit in candidate.edits:
            expected = snapshot.read(edit.path)
            # The provider read the file itself, with universal newlines, and
            # must have seen the snapshot's text.
            seen = (expected or b"").decode("utf-8", errors="replace")
            if _lines(edit.before) != _lines(seen):
                changed.append(edit.path)
            elif _read(self.root / edit.path) != expected:
                changed.append(edit.path)
        if changed:
            raise FixNotApplied(
                f"{', '.join(changed)} changed since the snapshot the fix was validated on",
                changed,
            )

    def _require_unstaged(self, candidate: Candidate) -> None:
        staged = sorted(set(candidate.paths) & set(self.repository.staged_paths()))
        if staged:
            raise FixNotApplied(
                f"{', '.join(staged)} has staged changes, and the fix would be mixed with them "
                "in the index; commit or unstage them (git restore --staged PATH) first",
                staged,
            )

    def _commit_fix(self, candidate: Candidate, message: str, no_verify: bool) -> str:
        """Commit HEAD plus the fix alone, whatever else the touched files contain."""
        dirty = sorted(set(candidate.paths) & set(self.repository.dirty_paths()))
        if not dirty:
            # The files are as in HEAD, so their new text is exactly the commit's.
            entries = {
                edit.path: (
                    self._mode(edit.path),
                    self.repository.write_blob(edit.path, edit.after.encode("utf-8")),
                )
                for edit in candidate.edits
            }
            return self.repository.commit_entries(entries, message, no_verify=no_verify)

        # The diff was made against the user's text. git apply moves its hunks
        # onto HEAD's text only where the changed lines and the three context
        # lines around them are the same there.
        try:
            return self.repository.commit_patch(
                candidate.diff, list(candidate.paths), message, no_verify=no_verify
            )
        except DirtyTreeError as error:
            raise FixNotApplied(
                f"the fix changes lines of {', '.join(dirty)} on or within three lines of "
                "your uncommitted edits, so it cannot be committed without them",
                dirty,
            ) from error

    def _mode(self, path: str) -> str:
        head = self.repository.tree_entry("HEAD", path)
        return head[0] if head is not None else _NEW_FILE_MODE

    def _restore(self, written: tuple[_Written, ...]) -> None:
        """Put back the bytes each file had before the fix, unless it changed after the write."""
        for item in written:
            target = self.root / item.path
            current = _read(target)
            if current == item.before:
                continue
            if current != item.after:
                logger.warning(
                    "%s changed after the fix was written, so it keeps its bytes", item.path
                )
                continue
            if item.before is None:
                target.unlink()
            else:
                replace_file(target, item.before)


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None
