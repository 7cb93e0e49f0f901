"""Find out whether reverting a commit would conflict, without touching the work tree or index.

``git revert`` that conflicts must be aborted, and the abort rewrites the
conflicting files, which changes their timestamps and the index's stat data
even though the content is back. Checking first keeps the repository
byte-identical when the revert would conflict.
"""

from __future__ import annotations

from kernel.gitops import Repository


def revert_conflicts(repository: Repository, sha: str) -> list[str]:
    """Return the files where reverting ``sha`` onto HEAD conflicts; empty when it applies cleanly.

    The revert is computed as a three-way merge in git's object store: a
    dangling commit holding the tree of ``sha``'s parent, on top of ``sha``,
    is merged with HEAD, so the merge base is ``sha`` itself, exactly as in
    ``git revert``. No ref, index entry or file changes; the dangling commit
    is removed by git's garbage collection. Needs git 2.38 or later.
    """
    inverse = repository.query(
        "commit-tree", f"{sha}^^{{tree}}", "-p", sha, "-m", "agentos revert check"
    ).strip()
    output = repository.query(
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "-z",
        "HEAD",
        inverse,
        accept=(0, 1),
    )
    _tree, *conflicts = [field for field in output.split("\0") if field]
    return sorted(set(conflicts))
