"""Unified diffs in git's format, and candidates built from whole-file changes."""

from __future__ import annotations

import difflib

from patches.errors import EditError
from patches.types import Candidate, FileEdit

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(path: str, before: str, after: str) -> str:
    """Return the git-style unified diff that turns ``before`` into ``after``.

    An empty ``before`` is shown as a new file (``--- /dev/null``), so that
    ``git apply`` creates it. Returns "" when the texts are equal.
    """
    if before == after:
        return ""
    created = before == ""
    header = [f"diff --git a/{path} b/{path}\n"]
    if created:
        header.append("new file mode 100644\n")
    hunks = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="/dev/null" if created else f"a/{path}",
        tofile=f"b/{path}",
    )
    lines = header
    for line in hunks:
        if line.endswith("\n"):
            lines.append(line)
        else:
            # The last line of a file without a final newline needs git's marker.
            lines.append(line + "\n")
            lines.append(_NO_NEWLINE)
    return "".join(lines)


def make_candidate(
    provider: str,
    model: str | None,
    summary: str,
    changes: dict[str, tuple[str, str]],
) -> Candidate:
    """Build a candidate from ``{path: (before, after)}``, dropping files that did not change.

    Files are ordered by path, so the same change always gives the same diff.
    Raises EditError when no file changes.
    """
    edits = tuple(
        FileEdit(path, before, after)
        for path, (before, after) in sorted(changes.items())
        if before != after
    )
    if not edits:
        paths = ", ".join(sorted(changes)) or "no files"
        raise EditError(
            f"the patch changes nothing (files: {paths}), but a candidate must edit a file"
        )
    diff = "".join(unified_diff(edit.path, edit.before, edit.after) for edit in edits)
    return Candidate(provider=provider, model=model, summary=summary, edits=edits, diff=diff)
