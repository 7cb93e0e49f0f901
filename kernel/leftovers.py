"""Clean-up at the start of a run after an earlier run was killed (SIGKILL, a crash, power loss).

A killed heal can leave two things in a repository besides its stale lock,
which RepositoryLock takes over:

- an unfinished revert, which ``kernel.journal`` finishes by dropping the
  unverified fix commit;
- a fix worktree in a temporary folder, which git keeps registered because
  the folder still exists. A worktree counts as the tool's when its folder's
  name starts with WORKTREE_PREFIX and contains an OWNER_FILE naming a process
  of this host that no longer exists. Such a worktree is removed with its
  folder. Its branch is kept when it has commits and deleted when it has none;
- an empty fix branch whose worktree is already gone (its temporary folder
  was cleaned up, or the heal finished without a fix). Such a branch is
  deleted only when four checks show that the tool made it and nothing was
  committed on it:

  - its name is ``agentos/fixes-<heal id>``;
  - no existing worktree has it checked out;
  - its reflog has a single entry, its creation at its current commit;
  - another branch or tag contains that commit.

  A branch named with ``--branch``, or one without a reflog, is never
  deleted here.

Worktrees without that file, the user's own, are never touched.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import RepositoryError
from kernel.gitops import OWNER_FILE, WORKTREE_PREFIX, Repository
from kernel.journal import finish_pending
from kernel.lock import process_exists

logger = logging.getLogger(__name__)

# The name of a fix branch made without --branch: agentos/fixes-<heal id>, from new_heal_id.
FIX_BRANCH = re.compile(r"agentos/fixes-\d{8}T\d{6}Z-[0-9a-f]{6}")


@dataclass(frozen=True)
class LeftWorktree:
    """A fix worktree whose owning process no longer exists."""

    checkout: Path
    branch: str  # short name
    start: str  # the commit the branch was made at


@dataclass(frozen=True)
class EmptyBranch:
    """A fix branch that the tool made and nothing was committed on."""

    name: str
    commit: str  # where it was made, and still is
    stale_checkout: Path | None  # a fix worktree of it whose folder is gone, still registered


def recover(repository: Repository) -> list[str]:
    """Finish what killed runs left in ``repository``; return one note per thing done.

    Call it while holding the repository lock.
    """
    notes = []
    finished = finish_pending(repository.root)
    if finished is not None:
        notes.append(f"finished {finished}")
    for worktree in left_worktrees(repository):
        notes.append(_remove(repository, worktree))
    for branch in empty_fix_branches(repository):
        if branch.stale_checkout is not None:
            repository.remove_worktree(branch.stale_checkout)
        if repository.delete_unmoved_branch(branch.name, branch.commit):
            notes.append(
                f"deleted the branch {branch.name} of an earlier heal, which had no commits"
            )
    return notes


def empty_fix_branches(repository: Repository) -> list[EmptyBranch]:
    """List the tool's fix branches that nothing was ever committed on, and no checkout uses.

    NOTE: ``git worktree add -b`` makes the branch just before its worktree,
    so a heal starting at that instant in another checkout of the same
    repository (which has its own lock) could lose its new branch.
    """
    listing = repository.query(
        "for-each-ref", "--format=%(refname:short)%00%(objectname)%00%(worktreepath)", "refs/heads/"
    )
    found = []
    for line in listing.splitlines():
        name, commit, checkout = line.split("\0")
        if not FIX_BRANCH.fullmatch(name):
            continue
        stale = Path(checkout) if checkout else None
        if stale is not None and (stale.exists() or not _is_fix_checkout(stale)):
            continue  # checked out in a worktree that still exists, or in one of the user's
        if not _never_moved(repository, name, commit):
            continue
        if _contained_elsewhere(repository, name, commit):
            found.append(EmptyBranch(name, commit, stale))
    return found


def _is_fix_checkout(checkout: Path) -> bool:
    return checkout.parent.name.startswith(WORKTREE_PREFIX)


def _never_moved(repository: Repository, branch: str, commit: str) -> bool:
    """Return whether the reflog of ``branch`` has only its creation, at ``commit``."""
    reflog = repository.query(
        "reflog", "show", "--format=%H%x1f%gs", f"refs/heads/{branch}", "--", accept=(0, 128)
    )
    entries = [line.split("\x1f", 1) for line in reflog.splitlines()]
    return (
        len(entries) == 1
        and entries[0][0] == commit
        and entries[0][1].startswith("branch: Created from ")
    )


def _contained_elsewhere(repository: Repository, branch: str, commit: str) -> bool:
    """Return whether a branch or tag other than ``branch`` contains ``commit``."""
    refs = repository.query(
        "for-each-ref", "--contains", commit, "--format=%(refname)", "refs/heads/", "refs/tags/"
    )
    return any(ref != f"refs/heads/{branch}" for ref in refs.splitlines())


def left_worktrees(repository: Repository) -> list[LeftWorktree]:
    """List the fix worktrees of ``repository`` whose owning process is dead."""
    output = repository.query("worktree", "list", "--porcelain")
    found = []
    for block in output.split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines() if line)
        if "worktree" not in fields:
            continue
        checkout = Path(fields["worktree"])
        owner = _dead_owner(checkout.parent)
        if owner is not None:
            branch = fields.get("branch", "").removeprefix("refs/heads/")
            found.append(
                LeftWorktree(checkout, branch or str(owner["branch"]), str(owner["start"]))
            )
    return found


def _dead_owner(folder: Path) -> dict[str, object] | None:
    """Return the owner record of a fix worktree's folder when its process is dead, else None."""
    if not folder.name.startswith(WORKTREE_PREFIX):
        return None
    try:
        owner = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not made by this tool, or made by a version that wrote no owner
    pid = owner.get("pid") if isinstance(owner, dict) else None
    if not isinstance(pid, int) or owner.get("hostname") != socket.gethostname():
        return None  # a process on another host cannot be checked from here
    if process_exists(pid):
        return None
    return owner


def _remove(repository: Repository, worktree: LeftWorktree) -> str:
    """Remove ``worktree`` and its folder, and its branch unless it has commits; describe it."""
    repository.remove_worktree(worktree.checkout)
    shutil.rmtree(worktree.checkout.parent, ignore_errors=True)
    text = f"removed the worktree {worktree.checkout} of a heal that was killed"
    if not worktree.branch:
        return text

    try:
        count = int(repository.query("rev-list", "--count", f"{worktree.start}..{worktree.branch}"))
    except RepositoryError as error:
        logger.warning("kept branch %s: cannot count its commits: %s", worktree.branch, error)
        return f"{text}; kept its branch {worktree.branch}"
    if count == 0:
        repository.delete_branch(worktree.branch)
        return f"{text}, and its branch {worktree.branch}, which had no commits"
    return f"{text}; its branch {worktree.branch} keeps its {count} fix commit(s)"
