"""Unified diffs and candidates built from whole-file changes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from patches.diff import make_candidate, unified_diff
from patches.errors import EditError


def test_diff_has_git_headers() -> None:
    diff = unified_diff("shop/cart.py", "a = 1\nb = 2\n", "a = 1\nb = 3\n")
    assert diff.splitlines()[:3] == [
        "diff --git a/shop/cart.py b/shop/cart.py",
        "--- a/shop/cart.py",
        "+++ b/shop/cart.py",
    ]
    assert "-b = 2\n+b = 3\n" in diff


def test_diff_of_equal_texts_is_empty() -> None:
    assert unified_diff("x.py", "same\n", "same\n") == ""


def test_diff_marks_missing_final_newline() -> None:
    diff = unified_diff("x.py", "a = 1\n", "a = 2")
    assert diff.endswith("+a = 2\n\\ No newline at end of file\n")


def test_candidate_drops_unchanged_files() -> None:
    candidate = make_candidate(
        "offline", None, "fix", {"b.py": ("x = 1\n", "x = 2\n"), "a.py": ("y\n", "y\n")}
    )
    assert candidate.paths == ("b.py",)
    assert candidate.changed_lines == 2


def test_candidate_without_change_raises() -> None:
    with pytest.raises(EditError, match="changes nothing"):
        make_candidate("offline", None, "fix", {"a.py": ("y\n", "y\n")})


def test_diff_applies_with_git(make_repo: Callable[[dict[str, str]], Path]) -> None:
    root = make_repo({"shop/cart.py": "a = 1\nb = 2\n", "notes.txt": "end"})
    changes = {
        "shop/cart.py": ("a = 1\nb = 2\n", "a = 1\nb = 3\n"),
        "shop/new.py": ("", "VALUE = 1\n"),
        "notes.txt": ("end", "end\nmore"),
    }
    candidate = make_candidate("offline", None, "fix", changes)
    patch = root / "fix.patch"
    patch.write_text(candidate.diff)

    done = subprocess.run(
        ["git", "apply", "--check", "-v", str(patch)], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    subprocess.run(["git", "apply", str(patch)], cwd=root, check=True)

    assert (root / "shop" / "cart.py").read_text() == "a = 1\nb = 3\n"
    assert (root / "shop" / "new.py").read_text() == "VALUE = 1\n"
    assert (root / "notes.txt").read_text() == "end\nmore"
