"""The journal of a revert in progress, so a heal killed while reverting is undone later.

When the committed tree fails verification, the heal writes
``.agentos/revert-journal.json`` naming the fix commit, its parent, the branch
and the checkout, and then reverts the commit. The journal is removed once the
revert commit exists. If the revert stops part-way, the unverified fix commit
is dropped instead, so the repository ends as it was before the heal:

=====================================  =======================================
how the revert stops                   who drops the fix commit
=====================================  =======================================
an error or SIGINT/SIGTERM             the heal itself, before it exits
SIGKILL, a crash, a power loss         the next run, under the repository lock
=====================================  =======================================

A commit is dropped only while its branch still ends at it and none of its
files changed since. Otherwise the commit stays and a warning gives the command to
revert it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kernel.errors import KernelError, RepositoryError
from kernel.gitops import Repository

logger = logging.getLogger(__name__)

JOURNAL_FILE = Path(".agentos") / "revert-journal.json"


@dataclass(frozen=True)
class PendingRevert:
    """A fix commit that failed verification and is being reverted."""

    heal_id: str
    pid: int  # the process that writes the revert
    hostname: str
    checkout: str  # work tree that has the branch checked out, absolute
    branch: str
    commit: str  # the fix commit, full sha
    parent: str  # the branch's commit before the fix, full sha
    problem: str  # why verification failed


@contextmanager
def reverting(
    root: Path, repository: Repository, heal_id: str, commit: str, parent: str, problem: str
) -> Iterator[None]:
    """Journal the revert of ``commit`` for the block; drop the commit when the block fails.

    ``root`` is the repository whose ``.agentos/`` contains the journal, and
    ``repository`` the checkout where ``commit`` was made. The exception that
    ended the block is re-raised after the drop.
    """
    pending = PendingRevert(
        heal_id=heal_id,
        pid=os.getpid(),
        hostname=socket.gethostname(),
        checkout=str(repository.root),
        branch=repository.branch() or "",
        commit=commit,
        parent=parent,
        problem=problem,
    )
    _write(root, pending)
    try:
        yield
    except BaseException:
        logger.warning("the revert of %s stopped: %s", commit[:12], drop_fix(repository, pending))
        _clear(root)
        raise
    _clear(root)


def pending_revert(root: Path) -> PendingRevert | None:
    """Return the revert journalled under ``root``, or None when there is none.

    Raises KernelError when the journal cannot be read.
    """
    path = root / JOURNAL_FILE
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return PendingRevert(**fields)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as error:
        raise KernelError(
            f"cannot read the revert journal {path}: {error}. Check with 'git log' whether the "
            f"last fix commit was reverted, revert it by hand if not, then delete {path}."
        ) from error


def finish_pending(root: Path) -> str | None:
    """Drop the fix commit of a revert that a killed run left unfinished; describe what happened.

    Call it while holding the repository lock, so the journal's writer is gone.
    Returns None when no revert was journalled.

    NOTE: a run killed inside 'git revert --no-commit' leaves REVERT_HEAD, and
    Repository.open then rejects the checkout as "a revert is in progress"
    before this runs; 'git revert --abort' lets the next run finish the drop.
    """
    pending = pending_revert(root)
    if pending is None:
        return None
    checkout = Path(pending.checkout)
    if not checkout.is_dir():
        note = (
            f"the checkout {checkout} of the interrupted heal {pending.heal_id} is gone, so its "
            f"unverified fix {pending.commit[:12]} stays on branch {pending.branch}. "
            f"Revert it with 'agentos revert {pending.commit[:12]}'."
        )
    else:
        repository = Repository.open(checkout)
        try:
            note = f"the interrupted heal {pending.heal_id}: {drop_fix(repository, pending)}"
        finally:
            repository.close()
    _clear(root)
    logger.info("%s", note)
    return note


def drop_fix(repository: Repository, pending: PendingRevert) -> str:
    """Drop the commit of ``pending`` in ``repository`` when that is safe; describe the result."""
    commit = pending.commit[:12]
    try:
        dropped = repository.drop_commit(pending.commit, pending.parent)
    except RepositoryError as error:
        return (
            f"its fix {commit} failed verification ({pending.problem}) but could not be "
            f"dropped: {error.message} Revert it with 'agentos revert {commit}'."
        )
    if dropped:
        return (
            f"its fix {commit} failed verification ({pending.problem}), so it was removed from "
            f"branch {pending.branch}, which is back at {pending.parent[:12]}."
        )
    return (
        f"its fix {commit} failed verification, but branch {pending.branch} has moved past it, "
        f"so it was left alone. Check 'git log'; revert it with 'agentos revert {commit}' "
        "if it is still there."
    )


def _write(root: Path, pending: PendingRevert) -> None:
    """Write the journal atomically, so a crash leaves either no journal or a whole one."""
    path = root / JOURNAL_FILE
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(pending)), encoding="utf-8")
    os.replace(temporary, path)


def _clear(root: Path) -> None:
    (root / JOURNAL_FILE).unlink(missing_ok=True)
