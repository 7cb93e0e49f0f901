"""Fix commits made the way the heal loop makes them, for history, revert and report tests."""

from __future__ import annotations

import difflib
from pathlib import Path

from kernel.faults import Fault
from kernel.gitops import Repository
from kernel.messages import commit_message
from patches.types import Candidate, FaultKind, FileEdit, Location, Usage


def commit_fix(
    root: Path,
    path: str,
    after: str,
    fault_id: str,
    heal_id: str = "20250102T030405Z-abc123",
    tokens: int = 0,
) -> str:
    """Commit ``after`` as the new text of ``path`` with a fix message; return the sha."""
    before = (root / path).read_text() if (root / path).exists() else ""
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
        )
    )
    fault = Fault(
        id=fault_id,
        kind=FaultKind.LINT,
        summary=f"F821 undefined name in {path}",
        message="undefined name",
        location=Location(path, 1),
    )
    candidate = Candidate("offline", None, f"Repair {path}", (FileEdit(path, before, after),), diff)
    message = commit_message(
        fault,
        candidate,
        "2 passed, 0 failed; target fixed",
        heal_id,
        "local",
        usage=Usage(tokens, 0, 1) if tokens else None,
    )
    repository = Repository.open(root)
    try:
        return repository.commit_files({path: after}, message)
    finally:
        repository.close()
