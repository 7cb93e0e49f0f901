"""Parts of a repository that the kernel must not write, and where the checkout sits.

A fix must never edit a Git LFS file, because the work tree may hold only
its pointer (a few lines naming the real content's hash), nor a file inside
a submodule, which is another repository. These become guard rules. A
checkout that is itself a submodule or a linked worktree is healed like any
other, with a warning that says where the commits go.
"""

from __future__ import annotations

import logging

from kernel.gitops import Repository

logger = logging.getLogger(__name__)

GITLINK_MODE = "160000"  # the index mode of a submodule entry
_CHUNK = 500  # paths per git check-attr call, to stay under the argument limit
_LFS_REASON = "it is stored in Git LFS, so the work tree may hold only a pointer file"
_SUBMODULE_REASON = "it is inside a submodule, which is a separate repository"


def protected_paths(repository: Repository) -> tuple[tuple[str, str], ...]:
    """Return (path, reason) for every Git LFS file and submodule at HEAD."""
    protected: list[tuple[str, str]] = []
    files: list[str] = []
    listing = repository.query("ls-tree", "-r", "-z", "--full-tree", "HEAD")
    for entry in listing.split("\0"):
        if not entry:
            continue
        header, _, path = entry.partition("\t")
        if header.split()[0] == GITLINK_MODE:
            protected.append((path, _SUBMODULE_REASON))
        else:
            files.append(path)

    for start in range(0, len(files), _CHUNK):
        chunk = files[start : start + _CHUNK]
        output = repository.query("check-attr", "-z", "filter", "--", *chunk)
        # The output is path, attribute and value, each ended by a NUL.
        fields = output.split("\0")[:-1]
        for path, _attribute, value in zip(fields[0::3], fields[1::3], fields[2::3], strict=True):
            if value == "lfs":
                protected.append((path, _LFS_REASON))
    if protected:
        logger.info("protected from edits: %s", ", ".join(path for path, _ in protected))
    return tuple(protected)


def checkout_notes(repository: Repository) -> list[str]:
    """Return sentences for the user when the checkout is a submodule or a linked worktree."""
    notes = []
    superproject = repository.query("rev-parse", "--show-superproject-working-tree").strip()
    if superproject:
        notes.append(
            f"{repository.root} is a submodule of {superproject}: fixes are committed in the "
            "submodule, and the superproject keeps pointing at the old commit until you "
            "commit the submodule there."
        )
    git_dir = repository.query("rev-parse", "--absolute-git-dir").strip()
    common = repository.query("rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    if git_dir != common and not superproject:
        notes.append(
            f"{repository.root} is a linked worktree of the repository at {common}: fixes go "
            "on the branch checked out here, which the other worktrees share."
        )
    return notes
