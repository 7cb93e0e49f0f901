"""Errors the kernel raises to its caller; the CLI catches them by their base class.

    KernelError                 every error shown to a user; exit code 2
    ├── RepositoryError         the target is not a usable git checkout, or git failed
    │   └── DirtyTreeError      tracked files have changes the operation would touch or commit
    ├── LockedError             another kernel holds the repository lock
    ├── CommitRejected          git commit failed, most often because a hook rejected it
    └── ConfigError             invalid configuration in pyproject.toml, environment or flags

Every message says what failed, on which value, and what to do next, so the CLI
prints it as it is. Errors from git, docker and HTTP libraries are translated
into these classes where they are caught, with the original chained as the cause.

To add a class, subclass the closest one above, add it to this tree, and set
``exit_code`` only if it differs from its parent's.
"""

from __future__ import annotations

from collections.abc import Sequence


class KernelError(Exception):
    """Base class: catch this to handle every failure the kernel reports to a user."""

    exit_code: int = 2  # usage or environment error, as argparse uses for bad arguments

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RepositoryError(KernelError):
    """The repository cannot be used as it is, or a git command failed in it.

    Raised for a missing path, a folder outside any repository, a bare repository,
    a branch with no commits, a merge, rebase, cherry-pick or revert in progress,
    and a detached HEAD when a commit must go on the current branch.
    """


class DirtyTreeError(RepositoryError):
    """Tracked files have uncommitted changes that the operation must not touch."""

    def __init__(self, message: str, paths: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.paths: tuple[str, ...] = tuple(paths)  # relative to the work tree root


class LockedError(KernelError):
    """Another kernel holds the repository lock. The message names its pid."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid  # None when the lock file cannot be read


class CommitRejected(KernelError):
    """git commit failed, most often because a pre-commit or commit-msg hook exited nonzero.

    The files and the index are back as they were before the commit was attempted.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output  # git's and the hooks' standard output and error, in full


class ConfigError(KernelError):
    """Invalid configuration. The message names the key, the value and its source."""
