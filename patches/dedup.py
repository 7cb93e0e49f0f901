"""Recognising candidates that make the same change in different words.

Two candidates are the same when every file they edit ends up with the same
syntax tree (for Python) or the same text once whitespace is ignored (for
other files). So a reply that differs from another only in blank lines,
spacing or comments is validated once.
"""

from __future__ import annotations

import ast

from patches.types import Candidate


def normal_form(candidate: Candidate) -> tuple[tuple[str, str], ...]:
    """Return a key that is equal for candidates whose results differ only in form."""
    return tuple((edit.path, _normalise(edit.path, edit.after)) for edit in candidate.edits)


def _normalise(path: str, text: str) -> str:
    if path.endswith(".py"):
        try:
            return ast.dump(ast.parse(text))
        except (SyntaxError, ValueError):
            pass  # compared as text below
    return " ".join(text.split())
